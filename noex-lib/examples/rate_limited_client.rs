//! An API client that keeps under a remote API's rate limit. Every request first
//! takes a token from a RateLimiter; one the limiter refuses waits for the
//! `retry_after` it was told (a timer, so the client keeps taking requests
//! meanwhile), then goes out. The remote API is simulated in-process, and counts
//! the requests it would have refused: none.
//!
//! Run with `cargo run -p noex --example rate_limited_client`: a short run that exits.
//! With `-- --forever` it keeps sending bursts of requests (and the remote API has
//! an outage now and then) until Ctrl-C; watch it from another terminal with
//! `noex top` (or `noex tree`).

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use noex::gen_server::{Context, GenServer, Info, NamedRef, Reply, ReplyTo};
use noex::rate_limiter::{ConsumeError, RateLimiter, RateLimiterOptions};
use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use tokio::time::Instant;

/// What the remote API allows: 5 requests in any 500 ms.
const API_LIMIT: u32 = 5;
const API_WINDOW: Duration = Duration::from_millis(500);
/// The client keeps a margin, so that a request's travel time never pushes it over.
const CLIENT_WINDOW: Duration = Duration::from_millis(550);
/// The limiter's registered name, and the key the client's requests count under.
const LIMITER: &str = "api-limits";
const KEY: &str = "weather-api";

#[derive(Clone, Debug)]
struct Forecast {
    city: String,
    celsius: i32,
}

#[derive(Clone, Debug)]
enum ApiError {
    /// HTTP 429: over the limit; the API says when to come back.
    TooManyRequests { retry_after: Duration },
    /// The API (or the way to it) is down.
    Unavailable(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::TooManyRequests { retry_after } => {
                write!(f, "429 too many requests, retry after {retry_after:?}")
            }
            ApiError::Unavailable(why) => write!(f, "unavailable: {why}"),
        }
    }
}

impl std::error::Error for ApiError {}

/// The remote API, simulated: it enforces its limit as a real one would, with a
/// sliding window over the times of the requests it served.
#[derive(Default)]
struct WeatherApi {
    served: VecDeque<Instant>,
    total: u64,
    refused: u64,
}

enum ApiCall {
    Forecast(String),
    /// How many requests it served and refused.
    Stats,
}

enum ApiReply {
    Forecast(Result<Forecast, ApiError>),
    Stats { total: u64, refused: u64 },
}

impl GenServer for WeatherApi {
    type Call = ApiCall;
    type Cast = ();
    type Reply = ApiReply;

    async fn handle_call(&mut self, call: ApiCall, _: &mut Context<Self>) -> Reply<ApiReply> {
        let city = match call {
            ApiCall::Stats => {
                let (total, refused) = (self.total, self.refused);
                return Reply::Now(ApiReply::Stats { total, refused });
            }
            ApiCall::Forecast(city) => city,
        };
        let now = Instant::now();
        while self
            .served
            .front()
            .is_some_and(|&at| now.duration_since(at) >= API_WINDOW)
        {
            self.served.pop_front();
        }
        if self.served.len() >= API_LIMIT as usize {
            self.refused += 1;
            let retry_after = API_WINDOW - now.duration_since(self.served[0]);
            let refused = Err(ApiError::TooManyRequests { retry_after });
            return Reply::Now(ApiReply::Forecast(refused));
        }
        self.served.push_back(now);
        self.total += 1;
        // An outage now and then: the supervisor restarts the API.
        if city == "Atlantis" {
            panic!("outage: the server for {city} sank");
        }
        tokio::time::sleep(Duration::from_millis(5)).await; // the network
        let celsius = city.bytes().map(i32::from).sum::<i32>() % 35 - 5;
        Reply::Now(ApiReply::Forecast(Ok(Forecast { city, celsius })))
    }
}

/// The client: takes requests at any rate, and sends them on no faster than the
/// limiter allows, in the order they came.
#[derive(Default)]
struct ApiClient {
    queue: VecDeque<Request>,
    /// A retry timer is set: the queue moves when it fires.
    waiting: bool,
    waits: u64,
}

struct Request {
    city: String,
    reply: ReplyTo<Result<Forecast, ApiError>>,
}

enum ClientCall {
    Forecast(String, ReplyTo<Result<Forecast, ApiError>>),
    /// How often a request had to wait for the limiter.
    Waits(ReplyTo<u64>),
}

/// The timer's message: time to try the queue again.
struct Retry;

impl GenServer for ApiClient {
    type Call = ClientCall;
    type Cast = ();
    type Reply = ();

    async fn handle_call(&mut self, call: ClientCall, ctx: &mut Context<Self>) -> Reply<()> {
        match call {
            ClientCall::Forecast(city, reply) => {
                // Queued, and answered through `reply` once it has been sent on.
                self.queue.push_back(Request { city, reply });
                if !self.waiting {
                    self.send_queued(ctx).await;
                }
            }
            ClientCall::Waits(reply) => {
                reply.reply(self.waits);
            }
        }
        Reply::Now(())
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut Context<Self>) {
        if message.is::<Retry>() {
            self.waiting = false;
            self.send_queued(ctx).await;
        }
    }
}

impl ApiClient {
    /// Send queued requests while the limiter allows; when it refuses, set a timer
    /// for when it said to come back, and stop until then.
    async fn send_queued(&mut self, ctx: &mut Context<Self>) {
        while let Some(request) = self.queue.front() {
            let wait = match take_token().await {
                Ok(()) => match ask_api(&request.city).await {
                    // The API refused after all: wait as long as it says, then retry.
                    Err(ApiError::TooManyRequests { retry_after }) => retry_after,
                    answer => {
                        if let Some(request) = self.queue.pop_front() {
                            request.reply.reply(answer);
                        }
                        continue;
                    }
                },
                Err(wait) => wait,
            };
            self.waits += 1;
            println!("  client: limit reached; the next request goes in {wait:.0?}");
            ctx.send_after(wait, Retry);
            self.waiting = true;
            return;
        }
    }
}

/// One token from the limiter, or how long to wait for the next.
async fn take_token() -> Result<(), Duration> {
    // Looked up by name each time, so a restarted limiter is found again.
    let limiter = RateLimiter::lookup(LIMITER).map_err(|_| Duration::from_millis(50))?;
    match limiter.consume(KEY).await {
        Ok(_) => Ok(()),
        Err(ConsumeError::Exceeded(limit)) => Err(limit.retry_after),
        // The limiter is restarting: try again shortly.
        Err(ConsumeError::Call(_)) => Err(Duration::from_millis(50)),
    }
}

async fn ask_api(city: &str) -> Result<Forecast, ApiError> {
    let api = NamedRef::<WeatherApi>::new("weather_api");
    match api.call(ApiCall::Forecast(city.to_string())).await {
        Ok(ApiReply::Forecast(answer)) => answer,
        Ok(ApiReply::Stats { .. }) => Err(ApiError::Unavailable("unexpected reply".into())),
        Err(error) => Err(ApiError::Unavailable(error.to_string())),
    }
}

/// Ask the client for a forecast, as any part of the app would.
async fn forecast(city: &str) -> Result<Result<Forecast, ApiError>, noex::CallError> {
    let client = NamedRef::<ApiClient>::new("api_client");
    client
        .request(|reply| ClientCall::Forecast(city.to_string(), reply))
        .await
}

const CITIES: [&str; 12] = [
    "Oslo", "Lima", "Pune", "Kyiv", "Cork", "Baku", "Suva", "Riga", "Doha", "Quito", "Accra",
    "Hanoi",
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let forever = std::env::args().any(|arg| arg == "--forever");
    let app = supervisor::start(
        SupervisorSpec::one_for_one()
            .name("api_sup")
            .max_restarts(5, Duration::from_secs(10))
            .child(ChildSpec::worker("weather_api", WeatherApi::default).name("weather_api"))
            // Named, so `RateLimiter::lookup` finds whichever instance runs.
            .child(
                RateLimiter::child_spec(LIMITER, RateLimiterOptions::new(API_LIMIT, CLIENT_WINDOW))
                    .name(LIMITER),
            )
            .child(ChildSpec::worker("api_client", ApiClient::default).name("api_client")),
    )
    .await?;
    println!(
        "the API allows {API_LIMIT} requests per {API_WINDOW:?}; the client limits itself to \
         {API_LIMIT} per {CLIENT_WINDOW:?}"
    );

    if forever {
        println!("running until Ctrl-C; watch it with `noex top`");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = steady_work() => {}
        }
    } else {
        println!("two callers ask for {} forecasts at once", CITIES.len());
        let start = Instant::now();
        let mut callers = tokio::task::JoinSet::new();
        for (caller, cities) in [("dashboard", &CITIES[..6]), ("mobile", &CITIES[6..])] {
            callers.spawn(async move {
                for city in cities {
                    let answer = forecast(city).await?;
                    let at = start.elapsed().as_secs_f64();
                    match answer {
                        Ok(Forecast { city, celsius }) => {
                            println!("[{at:4.2}s] {caller}: {city} {celsius}°C");
                        }
                        Err(error) => println!("[{at:4.2}s] {caller}: {city}: {error}"),
                    }
                }
                Ok::<_, noex::CallError>(())
            });
        }
        for caller in callers.join_all().await {
            caller?;
        }

        let waits = NamedRef::<ApiClient>::new("api_client")
            .request(ClientCall::Waits)
            .await?;
        let api = NamedRef::<WeatherApi>::new("weather_api");
        if let ApiReply::Stats { total, refused } = api.call(ApiCall::Stats).await? {
            println!(
                "the client waited for the limiter {waits} time(s); the API served {total} \
                 request(s) and refused {refused}"
            );
        }
    }

    app.stop().await?;
    Ok(())
}

/// The `--forever` load: every 2 s, a burst of 8 requests (more than the limit
/// allows at once); one request in 30 asks for Atlantis, and the API has an outage.
async fn steady_work() {
    let mut in_flight = tokio::task::JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut n = 0usize;
    loop {
        tick.tick().await;
        while in_flight.try_join_next().is_some() {}
        for _ in 0..8 {
            n += 1;
            let city = if n.is_multiple_of(30) {
                "Atlantis"
            } else {
                CITIES[n % CITIES.len()]
            };
            in_flight.spawn(async move {
                match forecast(city).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => println!("{city}: {error}"),
                    Err(error) => println!("{city}: the client did not answer: {error}"),
                }
            });
        }
    }
}
