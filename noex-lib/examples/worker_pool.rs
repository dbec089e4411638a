//! A pool of four workers under one supervisor, with jobs spread over them.
//!
//! One job has bad input and makes its worker panic. The supervisor restarts that
//! worker, and the pool goes on through the handle it kept from the start (a
//! `NamedRef`: it finds whichever instance of the child runs). At the end the
//! supervisor's `children()` shows the worker's restart count.
//!
//! Run with `cargo run -p noex --example worker_pool`: a short run that exits.
//! With `-- --forever` it keeps sending jobs (a bad one now and then) until Ctrl-C;
//! watch it from another terminal with `noex top` (or `noex tree`).

use std::time::Duration;

use noex::Pid;
use noex::error::CallError;
use noex::gen_server::{Context, GenServer, NamedRef, Reply};
use noex::supervisor::{self, ChildSpec, SupervisorRef, SupervisorSpec};
use tokio::task::JoinSet;

const WORKERS: usize = 4;

/// One job: count the primes below a number, given as text as it came from outside.
struct Job {
    id: u32,
    input: String,
}

/// What a worker answers: the result, and which instance did the work.
struct Done {
    primes: u64,
    worker: Pid,
    /// Jobs this instance has done: a restarted worker starts again from zero.
    done_here: u64,
}

#[derive(Default)]
struct Worker {
    done: u64,
}

impl GenServer for Worker {
    type Call = Job;
    type Cast = ();
    type Reply = Done;

    async fn handle_call(&mut self, job: Job, ctx: &mut Context<Self>) -> Reply<Done> {
        // Bad input is a bug upstream, not something to handle here: let it crash, and
        // let the supervisor bring back a clean worker.
        let Ok(below) = job.input.parse::<u64>() else {
            panic!("job {}: {:?} is not a number", job.id, job.input);
        };
        tokio::time::sleep(Duration::from_millis(5)).await; // the job's I/O
        self.done += 1;
        Reply::Now(Done {
            primes: (2..below).filter(|&n| is_prime(n)).count() as u64,
            worker: ctx.pid(),
            done_here: self.done,
        })
    }
}

fn is_prime(n: u64) -> bool {
    (2..)
        .take_while(|d| d * d <= n)
        .all(|d| !n.is_multiple_of(d))
}

/// The pool: one handle per worker, kept for the life of the program.
struct Pool {
    workers: Vec<(String, NamedRef<Worker>)>,
}

impl Pool {
    /// Start `size` workers under `sup`, keeping each one's handle.
    async fn start(sup: &SupervisorRef, size: usize) -> Result<Self, Box<dyn std::error::Error>> {
        let mut workers = Vec::new();
        for n in 1..=size {
            let id = format!("worker-{n}");
            // The child's name is what `noex ps` shows; the id is its place in the
            // supervisor. `handle()` reaches this child across its restarts (as
            // `sup.child::<Worker>(&id)` would).
            let spec = ChildSpec::worker(id.clone(), Worker::default).name(id.clone());
            let child = sup.start_child(spec).await?;
            println!("started {} as {}", child.id(), child.pid());
            workers.push((id, child.handle()));
        }
        Ok(Pool { workers })
    }

    /// Which worker a job goes to: round robin by job id.
    fn lane(&self, job: u32) -> usize {
        (job as usize - 1) % self.workers.len()
    }

    /// Run a batch of jobs: the workers in parallel, each one's jobs in turn. Print
    /// each outcome in job order.
    async fn run(&self, jobs: Vec<Job>) {
        let mut lanes: Vec<Vec<Job>> = self.workers.iter().map(|_| Vec::new()).collect();
        for job in jobs {
            lanes[self.lane(job.id)].push(job);
        }
        let mut running = JoinSet::new();
        for ((id, worker), lane) in self.workers.iter().cloned().zip(lanes) {
            running.spawn(async move {
                let mut outcomes = Vec::new();
                for job in lane {
                    // After a crash, the same handle waits for the restarted worker.
                    outcomes.push((job.id, id.clone(), worker.call(job).await));
                }
                outcomes
            });
        }
        let mut outcomes: Vec<_> = running.join_all().await.into_iter().flatten().collect();
        outcomes.sort_by_key(|(job, _, _)| *job);
        for (job, worker, outcome) in outcomes {
            print_outcome(job, &worker, outcome);
        }
    }
}

fn print_outcome(job: u32, worker: &str, outcome: Result<Done, CallError>) {
    match outcome {
        Ok(done) => println!(
            "job {job:>2} on {worker} {}: {} primes (its job #{} since it started)",
            done.worker, done.primes, done.done_here
        ),
        // The caller learns of the crash at once, with the panic as the reason.
        Err(error) => println!("job {job:>2} on {worker} FAILED: {error}"),
    }
}

/// Job `id`; a bad one carries input no worker can read.
fn job(id: u32, bad: bool) -> Job {
    let input = if bad {
        "12x".to_string()
    } else {
        (1_000 * (id % 30 + 1)).to_string()
    };
    Job { id, input }
}

/// Jobs `first..first + count`, of which `bad` (if any) is bad.
fn jobs(first: u32, count: u32, bad: Option<u32>) -> Vec<Job> {
    (first..first + count)
        .map(|id| job(id, Some(id) == bad))
        .collect()
}

async fn print_children(sup: &SupervisorRef) -> Result<(), Box<dyn std::error::Error>> {
    for child in sup.children().await? {
        let pid = child.pid.map_or("-".to_string(), |pid| pid.to_string());
        println!(
            "  {} {pid} {:?} restarts={}",
            child.id, child.status, child.restarts
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let forever = std::env::args().any(|arg| arg == "--forever");
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .name("pool_sup")
            // A bad job now and then is expected: allow a few restarts before the
            // supervisor gives up (OTP's default is one in 5 s).
            .max_restarts(5, Duration::from_secs(10)),
    )
    .await?;
    let pool = Pool::start(&sup, WORKERS).await?;

    if forever {
        println!("running until Ctrl-C; watch it with `noex top`");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = steady_work(&pool, &sup) => {}
        }
    } else {
        println!("-- eight jobs, two per worker");
        pool.run(jobs(1, 8, None)).await;
        println!("-- eight more; job 11 has bad input and crashes worker-3, whose next job");
        println!("   (15) goes through the same handle to the worker restarted in its place");
        pool.run(jobs(9, 8, Some(11))).await;
        println!("-- eight more");
        pool.run(jobs(17, 8, None)).await;
        println!("-- what the supervisor says");
        print_children(&sup).await?;
    }

    sup.stop().await?;
    Ok(())
}

/// The `--forever` load: a job every 25 ms, a bad one every 201 jobs (about every
/// 5 s, each time on another worker), and the supervisor's view every 10 s.
async fn steady_work(pool: &Pool, sup: &SupervisorRef) {
    // Jobs in flight end with this future (at Ctrl-C), not after the pool stops.
    let mut in_flight = JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    for id in 1.. {
        tick.tick().await;
        while in_flight.try_join_next().is_some() {}
        let job = job(id, id.is_multiple_of(201));
        let (name, worker) = pool.workers[pool.lane(id)].clone();
        in_flight.spawn(async move {
            let outcome = worker.call(job).await;
            if outcome.is_err() {
                print_outcome(id, &name, outcome);
            }
        });
        if id.is_multiple_of(400) {
            println!("after {id} jobs:");
            if let Err(error) = print_children(sup).await {
                println!("  supervisor: {error}");
            }
        }
    }
}
