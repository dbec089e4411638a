//! `noex events --all-agents`: the lifecycle events of every live application, merged
//! by time, with an APP column.
//!
//! Without `--follow`: each application's recent history, merged. With it: then the
//! events of all of them as they arrive, one connection each. The agent directory is
//! looked at every [`POLL`], so an application that starts later joins (with its
//! events since the follow began) and one that exits is noted on stderr.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use noex_agent::client::{Client, ClientError, Push};
use noex_agent::types::LifecycleEvent;
use tokio::sync::mpsc;

use super::{Member, attach, attach_all, outcome, refuse_a_target, report};
use crate::cli::EventsArgs;
use crate::commands::events::Printer;
use crate::commands::{Context, write_err};
use crate::error::CliError;
use crate::target;

/// How often the agent directory is looked at for applications that started.
pub const POLL: Duration = Duration::from_secs(1);
/// Pushes waiting to be printed; a full queue makes the connections wait, and their
/// agents count what they drop for us (a `lagged` notice), never the applications.
const QUEUE: usize = 1_024;

/// What a connection's task tells the printer.
enum Note {
    Joined {
        label: String,
    },
    Push {
        label: String,
        os_pid: u32,
        push: Push,
    },
    /// It went away; `forget` lets a later look at the directory follow its pid
    /// again (a new application with the reused pid), which one that never
    /// answered does not get, or it would be reported every second.
    Gone {
        label: String,
        os_pid: u32,
        why: String,
        forget: bool,
    },
}

pub async fn run(ctx: &Context, args: &EventsArgs) -> Result<(), CliError> {
    refuse_a_target(ctx)?;
    let began_ms = now_ms();
    let (members, mut absent) = attach_all().await?;
    let total = members.len() + absent.len();
    report(&absent);
    let printer = Printer::new(ctx, args);

    // Every history first, merged by time.
    let subscribed = futures::future::join_all(members.into_iter().map(|mut member| async {
        let history = target::request("subscribe", member.client.subscribe(args.history)).await;
        (member, history)
    }))
    .await;
    let mut histories: Vec<std::collections::VecDeque<LifecycleEvent>> = Vec::new();
    let mut live = Vec::new();
    for (member, history) in subscribed {
        match history {
            Ok(history) => {
                histories.push(history.into());
                live.push(member);
            }
            Err(error) => {
                write_err(&format!(
                    "noex: {} did not send its events ({:#}); left out\n",
                    member.label, error.error
                ));
                absent.push(super::Absent {
                    os_pid: member.os_pid,
                    reason: format!("{:#}", error.error),
                });
            }
        }
    }
    while let Some((index, event)) = next_by_time(&mut histories) {
        let member = &live[index];
        printer.print(Some((&member.label, member.os_pid)), Push::Event(event))?;
    }
    if !args.follow {
        return outcome(&absent, total);
    }

    let (tx, mut rx) = mpsc::channel(QUEUE);
    let mut followed: HashSet<u32> = absent.iter().map(|a| a.os_pid).collect();
    for member in live {
        followed.insert(member.os_pid);
        tokio::spawn(forward(member, tx.clone()));
    }
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            note = rx.recv() => match note {
                Some(Note::Push { label, os_pid, push }) => printer.print(Some((&label, os_pid)), push)?,
                Some(Note::Joined { label }) => write_err(&format!("noex: following {label}\n")),
                Some(Note::Gone { label, os_pid, why, forget }) => {
                    if forget {
                        followed.remove(&os_pid);
                    }
                    write_err(&format!("noex: {label} went away ({why})\n"));
                }
                // The sender below lives as long as the loop.
                None => return Ok(()),
            },
            _ = poll.tick() => {
                // A directory that cannot be read now may be readable at the next look.
                let Ok(agents) = noex_agent::discovery::list_agents() else { continue };
                for agent in agents {
                    if followed.insert(agent.pid) {
                        tokio::spawn(join(agent.pid, agent.path, args.history, began_ms, tx.clone()));
                    }
                }
            },
        }
    }
}

/// The earliest of the histories' next events, and whose it is. Each history stays
/// in its own order (the agent's sequence): an event stamped a millisecond before the
/// one published ahead of it does not jump it.
fn next_by_time(
    histories: &mut [std::collections::VecDeque<LifecycleEvent>],
) -> Option<(usize, LifecycleEvent)> {
    let index = histories
        .iter()
        .enumerate()
        .filter_map(|(i, history)| Some((history.front()?.at_ms, i)))
        .min()?
        .1;
    Some((index, histories[index].pop_front()?))
}

/// A newcomer: attach, print its events since the follow began, then follow it.
async fn join(
    os_pid: u32,
    path: std::path::PathBuf,
    history: u32,
    since_ms: u64,
    tx: mpsc::Sender<Note>,
) {
    let mut member = match attach(os_pid, &path).await {
        Ok(member) => member,
        Err(absent) => {
            let _ = tx
                .send(Note::Gone {
                    label: format!("pid {os_pid}"),
                    os_pid,
                    why: format!("did not answer: {}", absent.reason),
                    forget: false,
                })
                .await;
            return;
        }
    };
    let label = member.label.clone();
    let history = match target::request("subscribe", member.client.subscribe(history)).await {
        Ok(history) => history,
        Err(error) => {
            let why = format!("did not send its events: {:#}", error.error);
            let note = Note::Gone {
                label,
                os_pid,
                why,
                forget: false,
            };
            let _ = tx.send(note).await;
            return;
        }
    };
    if tx
        .send(Note::Joined {
            label: label.clone(),
        })
        .await
        .is_err()
    {
        return;
    }
    for event in history.into_iter().filter(|e| e.at_ms >= since_ms) {
        let push = Push::Event(event);
        let note = Note::Push {
            label: label.clone(),
            os_pid,
            push,
        };
        if tx.send(note).await.is_err() {
            return;
        }
    }
    forward(member, tx).await;
}

/// Pass one application's pushes on until it goes away (or the printer does).
async fn forward(member: Member, tx: mpsc::Sender<Note>) {
    let Member {
        label,
        os_pid,
        mut client,
    } = member;
    let why = loop {
        match next(&mut client).await {
            Ok(Some(push)) => {
                let note = Note::Push {
                    label: label.clone(),
                    os_pid,
                    push,
                };
                if tx.send(note).await.is_err() {
                    return;
                }
            }
            Ok(None) => break "it closed the connection; it has probably exited".to_string(),
            Err(error) => break error.to_string(),
        }
    };
    let note = Note::Gone {
        label,
        os_pid,
        why,
        forget: true,
    };
    let _ = tx.send(note).await;
}

async fn next(client: &mut Client) -> Result<Option<Push>, ClientError> {
    match client.next_push().await {
        Err(ClientError::Closed) => Ok(None),
        other => other,
    }
}

/// Milliseconds since the Unix epoch, the clock events are stamped with.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
