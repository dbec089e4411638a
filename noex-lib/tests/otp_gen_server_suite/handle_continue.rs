//! OTP case `continue`: `handle_continue` runs before the messages already queued.

use noex::ExitReason;
use noex::process;

use crate::server::*;
use crate::support::within;
use crate::test_process::*;

/// OTP `gen_server_SUITE:continue/1`: a continue asked for by init, by a call that
/// replies, by a call that does not (handle_continue replies), by a cast and by
/// an info runs before the message the server had already sent itself
/// (`[continue, after_continue]`); a continue may ask for another, and both run
/// first (`[before_continue, continue, after_continue]`); a continue returning
/// `{stop, normal, S}` ends the server with `normal`. Ported whole.
#[tokio::test(start_paused = true)]
async fn continue_runs_before_queued_messages_and_may_chain_or_stop() {
    let mut mailbox = Mailbox::new();
    let server = start(Init::Continue(mailbox.me())).await;
    let pid = server.pid();
    let continue_then_after = vec![
        Msg::Sent(pid, Tag::Continue),
        Msg::Sent(pid, Tag::AfterContinue),
    ];
    assert_eq!(mailbox.read_replies(pid).await, continue_then_after);

    assert_eq!(
        server.call(Request::ContinueReply(mailbox.me())).await,
        Ok(Answer::Ok)
    );
    assert_eq!(mailbox.read_replies(pid).await, continue_then_after);

    assert_eq!(
        server.call(Request::ContinueNoreply(mailbox.me())).await,
        Ok(Answer::Ok)
    );
    assert_eq!(mailbox.read_replies(pid).await, continue_then_after);

    server.cast(CastMsg::ContinueNoreply(mailbox.me())).unwrap();
    assert_eq!(mailbox.read_replies(pid).await, continue_then_after);

    server
        .send_info(InfoMsg::ContinueNoreply(mailbox.me()))
        .unwrap();
    assert_eq!(mailbox.read_replies(pid).await, continue_then_after);

    server
        .send_info(InfoMsg::ContinueContinue(mailbox.me()))
        .unwrap();
    assert_eq!(
        mailbox.read_replies(pid).await,
        vec![
            Msg::Sent(pid, Tag::BeforeContinue),
            Msg::Sent(pid, Tag::Continue),
            Msg::Sent(pid, Tag::AfterContinue),
        ]
    );

    let down = process::monitor(pid);
    server.send_info(InfoMsg::ContinueStop).unwrap();
    assert_eq!(
        within("the server's exit", down).await.reason,
        ExitReason::Normal
    );
}
