//! The OTP test process: its mailbox, which receives the server's `{Pid, Tag}`
//! messages, and the [`Probe`] that links to a server and traps exits for it.

use noex::gen_server::{self, Context, GenServer, Info, Reply, StartOptions};
use noex::process::Exit;
use noex::{Pid, ServerNotRunningError, ServerRef, StartError};
use tokio::sync::mpsc;

use crate::oc_server::UndefInit;
use crate::support::within;

/// What the OTP test process receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Msg {
    /// `{Pid, Tag}`, sent by the server `Pid`.
    Sent(Pid, Tag),
    /// `{'EXIT', Pid, Reason}`, received by a linked test that traps exits.
    Exit(Exit),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tag {
    HandledCast,
    Delayed,
    Stopped,
    HandledInfo,
    DelayedInfo,
    StoppedInfo,
    Continue,
    BeforeContinue,
    AfterContinue,
    Ack,
}

/// OTP's `From` / `Pid` argument: where the server sends `{self(), Tag}`.
pub(crate) type Tester = mpsc::UnboundedSender<Msg>;

pub(crate) fn send(to: &Tester, from: Pid, tag: Tag) {
    let _ = to.send(Msg::Sent(from, tag));
}

pub(crate) struct Mailbox {
    tx: Tester,
    rx: mpsc::UnboundedReceiver<Msg>,
}

impl Mailbox {
    pub(crate) fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Mailbox { tx, rx }
    }

    /// `self()`, to hand to the server.
    pub(crate) fn me(&self) -> Tester {
        self.tx.clone()
    }

    pub(crate) async fn recv(&mut self) -> Msg {
        within("a message to the test process", self.rx.recv())
            .await
            .expect("the mailbox keeps a sender")
    }

    pub(crate) fn try_recv(&mut self) -> Option<Msg> {
        self.rx.try_recv().ok()
    }

    /// OTP's `read_replies(Pid)`: wait for `{Pid, ack}`, then every other message,
    /// in arrival order (those before the ack and those already queued after it).
    pub(crate) async fn read_replies(&mut self, pid: Pid) -> Vec<Msg> {
        let mut replies = Vec::new();
        loop {
            match self.recv().await {
                Msg::Sent(from, Tag::Ack) if from == pid => break,
                other => replies.push(other),
            }
        }
        while let Some(msg) = self.try_recv() {
            replies.push(msg);
        }
        replies
    }
}

/// Traps exits and forwards every `Exit` it gets to the test's mailbox.
pub(crate) struct Probe {
    to: Tester,
}

pub(crate) enum ProbeCall {
    Link(Pid),
    /// A round trip: every exit signal already queued has been forwarded after it.
    Sync,
    /// Start an [`UndefInit`] from this (trapping) process.
    StartUndefInit,
}

pub(crate) enum ProbeReply {
    Done,
    Linked(Result<(), ServerNotRunningError>),
    Started(Result<Pid, StartError>),
}

impl GenServer for Probe {
    type Call = ProbeCall;
    type Cast = ();
    type Reply = ProbeReply;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        ctx.trap_exit(true);
        Ok(())
    }

    async fn handle_call(&mut self, call: ProbeCall, ctx: &mut Context<Self>) -> Reply<ProbeReply> {
        Reply::Now(match call {
            ProbeCall::Link(pid) => ProbeReply::Linked(ctx.link(pid)),
            ProbeCall::Sync => ProbeReply::Done,
            ProbeCall::StartUndefInit => ProbeReply::Started(
                gen_server::start(UndefInit, StartOptions::new())
                    .await
                    .map(|server| server.pid()),
            ),
        })
    }

    async fn handle_info(&mut self, message: Info, _: &mut Context<Self>) {
        if let Ok(exit) = message.downcast::<Exit>() {
            let _ = self.to.send(Msg::Exit(*exit));
        }
    }
}

pub(crate) async fn probe(mailbox: &Mailbox) -> ServerRef<Probe> {
    gen_server::start(Probe { to: mailbox.me() }, StartOptions::new())
        .await
        .unwrap()
}

pub(crate) async fn link(probe: &ServerRef<Probe>, pid: Pid) {
    match probe.call(ProbeCall::Link(pid)).await.unwrap() {
        ProbeReply::Linked(linked) => linked.expect("linked to a live server"),
        _ => unreachable!(),
    }
}

pub(crate) async fn sync(probe: &ServerRef<Probe>) {
    probe.call(ProbeCall::Sync).await.unwrap();
}
