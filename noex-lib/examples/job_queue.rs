//! A job queue: a queue process hands jobs to a pool of workers, retries a failed
//! job with exponential backoff, and after three failed attempts moves it to a
//! dead-letter list. A worker that crashes mid-job loses nothing: the queue monitors
//! each worker while it has a job, and on its `Down` counts the attempt as failed
//! and puts the job back.
//!
//! Run with `cargo run -p noex --example job_queue`: a short run that exits.
//! With `-- --forever` it keeps submitting jobs (some fail, some crash their worker,
//! some never succeed) until Ctrl-C; watch it from another terminal with
//! `noex top` (or `noex tree`).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use noex::gen_server::{Context, GenServer, Info, NamedRef, Reply, ReplyTo, ServerRef};
use noex::process::{Down, MonitorRef};
use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use noex::{Pid, registry};

const WORKERS: usize = 3;
const MAX_ATTEMPTS: u32 = 3;
/// The wait before the second attempt; it doubles for each attempt after.
const BACKOFF: Duration = Duration::from_millis(50);

/// How a simulated job behaves: what a real job would find out by running.
#[derive(Clone, Copy, Debug)]
enum Script {
    Succeed,
    /// Fails its first `n` attempts (a flaky mail server), then succeeds.
    FailFirst(u32),
    /// Crashes its worker on the first attempt, then succeeds.
    CrashFirst,
    /// Never succeeds: it ends in the dead-letter list.
    AlwaysFail,
}

#[derive(Clone, Debug)]
struct Job {
    id: u32,
    name: String,
    script: Script,
    /// Attempts made so far, this one included once handed out.
    attempt: u32,
    last_error: Option<String>,
}

impl Job {
    fn new(id: u32, name: impl Into<String>, script: Script) -> Self {
        let name = name.into();
        Job {
            id,
            name,
            script,
            attempt: 0,
            last_error: None,
        }
    }
}

/// What the queue has done so far.
#[derive(Clone, Debug, Default)]
struct Report {
    /// Jobs that succeeded.
    done: u64,
    dead_letters: Vec<Job>,
}

enum QueueCall {
    /// Answered once nothing is waiting, running or backing off.
    WhenDrained(ReplyTo<Report>),
}

enum QueueCast {
    Submit(Job),
    /// A worker is free for a job: sent by each worker when it starts and after
    /// each job.
    Ready {
        name: String,
        worker: ServerRef<Worker>,
    },
    Finished {
        worker: Pid,
        outcome: Result<(), String>,
    },
}

/// A job whose backoff is over.
struct RetryDue(Job);

/// A job handed to a worker, with the monitor that tells if the worker dies.
struct Running {
    job: Job,
    worker: String,
    monitor: MonitorRef,
}

#[derive(Default)]
struct JobQueue {
    waiting: VecDeque<Job>,
    idle: VecDeque<(String, ServerRef<Worker>)>,
    /// By the pid of the worker running it.
    running: HashMap<Pid, Running>,
    backing_off: usize,
    report: Report,
    drained: Vec<ReplyTo<Report>>,
    /// Print every job's success, not only retries and dead letters.
    verbose: bool,
}

impl JobQueue {
    /// Hand waiting jobs to idle workers, as many as both allow.
    fn dispatch(&mut self, ctx: &Context<Self>) {
        while let Some(mut job) = self.waiting.pop_front() {
            let Some((worker_name, worker)) = self.idle.pop_front() else {
                self.waiting.push_front(job);
                return;
            };
            // Monitored before it gets the job: if it dies from here on, its `Down`
            // brings the job back.
            let monitor = ctx.monitor(worker.pid());
            job.attempt += 1;
            if worker.cast(WorkerCast::Run(job.clone())).is_err() {
                // It ended while idle: forget it (its successor says Ready itself).
                ctx.demonitor(monitor);
                job.attempt -= 1;
                self.waiting.push_front(job);
                continue;
            }
            let running = Running {
                job,
                worker: worker_name,
                monitor,
            };
            self.running.insert(worker.pid(), running);
        }
    }

    /// An attempt failed: back off and try again, or give up on the job.
    fn failed(&mut self, mut job: Job, error: String, ctx: &Context<Self>) {
        let what = format!("job {} ({}) attempt {}", job.id, job.name, job.attempt);
        job.last_error = Some(error.clone());
        if job.attempt >= MAX_ATTEMPTS {
            println!("  queue: {what} failed: {error}; to the dead letters");
            self.report.dead_letters.push(job);
            return;
        }
        let backoff = BACKOFF * 2u32.pow(job.attempt - 1);
        println!("  queue: {what} failed: {error}; retry in {backoff:?}");
        self.backing_off += 1;
        ctx.send_after(backoff, RetryDue(job));
    }

    fn answer_if_drained(&mut self) {
        if self.waiting.is_empty() && self.running.is_empty() && self.backing_off == 0 {
            for reply in self.drained.drain(..) {
                reply.reply(self.report.clone());
            }
        }
    }
}

impl GenServer for JobQueue {
    type Call = QueueCall;
    type Cast = QueueCast;
    type Reply = ();

    async fn handle_call(&mut self, call: QueueCall, _: &mut Context<Self>) -> Reply<()> {
        match call {
            QueueCall::WhenDrained(reply) => self.drained.push(reply),
        }
        self.answer_if_drained();
        Reply::Now(())
    }

    async fn handle_cast(&mut self, message: QueueCast, ctx: &mut Context<Self>) {
        match message {
            QueueCast::Submit(job) => self.waiting.push_back(job),
            QueueCast::Ready { name, worker } => self.idle.push_back((name, worker)),
            QueueCast::Finished { worker, outcome } => {
                let Some(running) = self.running.remove(&worker) else {
                    return;
                };
                ctx.demonitor(running.monitor);
                let job = running.job;
                match outcome {
                    Ok(()) => {
                        if self.verbose {
                            println!(
                                "  queue: job {} ({}) done by {} on attempt {}",
                                job.id, job.name, running.worker, job.attempt
                            );
                        }
                        self.report.done += 1;
                    }
                    Err(error) => self.failed(job, error, ctx),
                }
            }
        }
        self.dispatch(ctx);
        self.answer_if_drained();
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut Context<Self>) {
        let message = match message.downcast::<RetryDue>() {
            Ok(retry) => {
                self.backing_off -= 1;
                self.waiting.push_back(retry.0);
                self.dispatch(ctx);
                return;
            }
            Err(other) => other,
        };
        // A worker died with a job: the job is not lost, the attempt is.
        if let Ok(down) = message.downcast::<Down>()
            && let Some(running) = self.running.remove(&down.pid)
        {
            let error = format!("{} crashed ({})", running.worker, down.reason);
            self.failed(running.job, error, ctx);
            self.dispatch(ctx);
            self.answer_if_drained();
        }
    }
}

/// A worker: runs one job at a time, handed to it by the queue.
struct Worker {
    name: String,
    queue: NamedRef<JobQueue>,
}

enum WorkerCast {
    Run(Job),
}

impl GenServer for Worker {
    type Call = ();
    type Cast = WorkerCast;
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        // A restarted worker tells the queue too: that is how it gets work again.
        let name = self.name.clone();
        self.queue.cast(QueueCast::Ready {
            name,
            worker: ctx.myself(),
        })?;
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_cast(&mut self, WorkerCast::Run(job): WorkerCast, ctx: &mut Context<Self>) {
        // The work itself: some time, then the job's outcome.
        let millis = 10 + u64::from(job.id % 4) * 10;
        tokio::time::sleep(Duration::from_millis(millis)).await;
        let outcome = match job.script {
            Script::Succeed => Ok(()),
            Script::FailFirst(n) if job.attempt <= n => Err("mail server timed out".to_string()),
            Script::FailFirst(_) => Ok(()),
            Script::CrashFirst if job.attempt == 1 => {
                panic!("job {}: corrupt row 13 in {}", job.id, job.name)
            }
            Script::CrashFirst => Ok(()),
            Script::AlwaysFail => Err("card declined".to_string()),
        };
        let finished = QueueCast::Finished {
            worker: ctx.pid(),
            outcome,
        };
        let ready = QueueCast::Ready {
            name: self.name.clone(),
            worker: ctx.myself(),
        };
        // A queue that is gone is a crash: the supervisor restarts the workers with it.
        if let Err(error) = self.queue.cast(finished).and(self.queue.cast(ready)) {
            panic!("the job queue is gone: {error}");
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let forever = std::env::args().any(|arg| arg == "--forever");
    let workers = (1..=WORKERS).map(|n| {
        let name = format!("worker-{n}");
        let worker = name.clone();
        ChildSpec::worker(name.clone(), move || Worker {
            name: worker.clone(),
            queue: NamedRef::new("job_queue"),
        })
        .name(name)
    });
    let app = supervisor::start(
        // The workers need the queue: if it restarts, they restart after it and
        // introduce themselves to the new one.
        SupervisorSpec::rest_for_one()
            .name("jobs_sup")
            .child(
                ChildSpec::worker("job_queue", move || JobQueue {
                    verbose: !forever,
                    ..JobQueue::default()
                })
                .name("job_queue"),
            )
            .child(ChildSpec::supervisor(
                "workers",
                SupervisorSpec::one_for_one()
                    .name("workers_sup")
                    .max_restarts(5, Duration::from_secs(10))
                    .children(workers),
            )),
    )
    .await?;
    let queue = NamedRef::<JobQueue>::new("job_queue");

    if forever {
        println!("running until Ctrl-C; watch it with `noex top`");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = steady_work(&queue) => {}
        }
    } else {
        let jobs = [
            Job::new(1, "resize photo-1.jpg", Script::Succeed),
            Job::new(2, "send invoice #7", Script::FailFirst(1)),
            Job::new(3, "import report.csv", Script::CrashFirst),
            Job::new(4, "charge card 4242", Script::AlwaysFail),
            Job::new(5, "resize photo-2.jpg", Script::Succeed),
            Job::new(6, "send invoice #8", Script::FailFirst(2)),
            Job::new(7, "resize photo-3.jpg", Script::Succeed),
        ];
        println!("submitting {} jobs to {WORKERS} workers", jobs.len());
        for job in jobs {
            queue.cast(QueueCast::Submit(job))?;
        }
        let report = queue.request(QueueCall::WhenDrained).await?;

        println!("done: {} jobs", report.done);
        for job in &report.dead_letters {
            let error = job.last_error.as_deref().unwrap_or("?");
            println!(
                "dead letter: job {} ({}) after {} attempts: {error}",
                job.id, job.name, job.attempt
            );
        }
        for child in registry::lookup_supervisor("workers_sup")?
            .children()
            .await?
        {
            println!("{} restarts={}", child.id, child.restarts);
        }
    }

    app.stop().await?;
    Ok(())
}

/// The `--forever` load: a job every 100 ms; one in 10 fails once, one in 50
/// crashes its worker (every 5 s), and one in 30 never succeeds.
async fn steady_work(queue: &NamedRef<JobQueue>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    for id in 1u32.. {
        tick.tick().await;
        let (name, script) = match id {
            id if id.is_multiple_of(50) => ("import", Script::CrashFirst),
            id if id.is_multiple_of(30) => ("charge", Script::AlwaysFail),
            id if id.is_multiple_of(10) => ("send mail", Script::FailFirst(1)),
            _ => ("resize", Script::Succeed),
        };
        let job = Job::new(id, format!("{name} #{id}"), script);
        if let Err(error) = queue.cast(QueueCast::Submit(job)) {
            println!("job {id} not submitted: {error}");
        }
    }
}
