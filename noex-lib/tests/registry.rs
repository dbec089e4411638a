//! The Registry contract.

use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
use noex::registry::{self, LookupError, RegisterError};
use noex::{AlreadyRegisteredError, ExitReason, NotRegisteredError};

mod support;
use support::{Idle, within};

struct Named;
impl GenServer for Named {
    type Call = ();
    type Cast = ();
    type Reply = &'static str;
    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<&'static str> {
        Reply::Now("named")
    }
    async fn handle_cast(&mut self, _: (), _: &mut Context<Self>) {
        panic!("crash on cast")
    }
}

#[tokio::test]
async fn register_lookup_whereis_unregister() {
    let server = gen_server::start(Named, StartOptions::new()).await.unwrap();
    registry::register("reg.basic", &server).unwrap();
    assert!(registry::is_registered("reg.basic"));
    assert_eq!(registry::whereis("reg.basic"), Some(server.pid()));
    assert!(registry::names().contains(&"reg.basic".to_string()));
    assert!(registry::count() >= 1);
    let typed = registry::lookup::<Named>("reg.basic").unwrap();
    assert_eq!(typed.call(()).await.unwrap(), "named");
    assert!(registry::unregister("reg.basic"));
    assert!(!registry::unregister("reg.basic"));
    assert_eq!(server.name(), None);
    assert!(
        server.is_running(),
        "unregistering does not stop the process"
    );
}

#[tokio::test]
async fn lookup_of_an_unknown_name_is_not_registered_error() {
    assert_eq!(
        registry::lookup::<Named>("reg.nobody").unwrap_err(),
        LookupError::NotRegistered(NotRegisteredError {
            name: "reg.nobody".into()
        })
    );
    assert_eq!(registry::whereis("reg.nobody"), None);
}

/// The refusal says what is registered and what was asked for, in the words a
/// reader uses: type names without module paths.
#[tokio::test]
async fn a_typed_lookup_of_another_type_is_refused_and_names_both_types() {
    let named = gen_server::start(Named, StartOptions::new().name("reg.typed"))
        .await
        .unwrap();
    let error = registry::lookup::<Idle>("reg.typed").unwrap_err();
    assert_eq!(
        error,
        LookupError::WrongType {
            name: "reg.typed".into(),
            pid: named.pid(),
            registered: "Named server".into(),
            expected: "Idle".into(),
        }
    );
    assert_eq!(
        error.to_string(),
        format!(
            "\"reg.typed\" is registered to {}, a Named server, not an Idle",
            named.pid()
        )
    );
    let error = registry::lookup_supervisor("reg.typed").unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "\"reg.typed\" is registered to {}, a Named server, not a supervisor",
            named.pid()
        )
    );
}

/// A generic server is told with its type arguments, each without its path.
struct Pool<T>(std::marker::PhantomData<T>);
impl<T: Send + 'static> GenServer for Pool<T> {
    type Call = ();
    type Cast = ();
    type Reply = ();
    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}
struct Job;

#[tokio::test]
async fn a_generic_server_of_other_type_arguments_is_refused_with_both_in_words() {
    let pool = gen_server::start(Pool::<Job>(Default::default()), StartOptions::new())
        .await
        .unwrap();
    // Registered after the start: the same words as a name given at start.
    registry::register("reg.pool", &pool).unwrap();
    let error = registry::lookup::<Pool<Vec<String>>>("reg.pool").unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "\"reg.pool\" is registered to {}, a Pool<Job> server, not a Pool<Vec<String>>",
            pool.pid()
        )
    );
}

#[tokio::test]
async fn a_taken_name_is_already_registered_error() {
    let first = gen_server::start(Named, StartOptions::new().name("reg.taken"))
        .await
        .unwrap();
    let error = gen_server::start(Named, StartOptions::new().name("reg.taken"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, noex::StartError::AlreadyRegistered(ref e) if e.pid == first.pid()),
        "{error:?}"
    );
    let other = gen_server::start(Idle, StartOptions::new()).await.unwrap();
    assert!(matches!(
        registry::register("reg.taken", &other),
        Err(RegisterError::AlreadyRegistered(_))
    ));
}

#[tokio::test]
async fn a_process_has_at_most_one_name() {
    let server = gen_server::start(Named, StartOptions::new().name("reg.one"))
        .await
        .unwrap();
    assert!(
        matches!(
            registry::register("reg.two", &server),
            Err(RegisterError::AlreadyRegistered(AlreadyRegisteredError { pid, .. })) if pid == server.pid()
        ),
        "it already has a name"
    );
    assert!(!registry::is_registered("reg.two"));
    assert_eq!(registry::whereis("reg.one"), Some(server.pid()));
}

#[tokio::test]
async fn a_name_is_unregistered_after_a_crash() {
    let server = gen_server::start(Named, StartOptions::new().name("reg.crash"))
        .await
        .unwrap();
    server.cast(()).unwrap();
    assert_eq!(
        within("the crash", server.wait()).await,
        ExitReason::error("crash on cast")
    );
    assert!(!registry::is_registered("reg.crash"));
}

#[tokio::test]
async fn a_name_is_unregistered_after_a_normal_stop_and_a_kill() {
    let stopped = gen_server::start(Named, StartOptions::new().name("reg.stop"))
        .await
        .unwrap();
    stopped.stop(ExitReason::Normal).await.unwrap();
    assert!(!registry::is_registered("reg.stop"));
    let killed = gen_server::start(Named, StartOptions::new().name("reg.kill"))
        .await
        .unwrap();
    killed.kill();
    within("the kill", killed.wait()).await;
    assert!(!registry::is_registered("reg.kill"));
    // The name is free again.
    gen_server::start(Named, StartOptions::new().name("reg.kill"))
        .await
        .unwrap();
}

#[tokio::test]
async fn registering_a_dead_process_fails() {
    let server = gen_server::start(Idle, StartOptions::new()).await.unwrap();
    server.stop(ExitReason::Normal).await.unwrap();
    assert!(matches!(
        registry::register("reg.dead", &server),
        Err(RegisterError::NotRunning(_))
    ));
    assert!(!registry::is_registered("reg.dead"));
}

#[tokio::test]
async fn a_supervisor_named_at_start_or_later_is_found_by_lookup_supervisor() {
    use noex::supervisor::{self, ChildSpec, SupervisorSpec};
    let top = supervisor::start(SupervisorSpec::one_for_one().name("reg.top_sup").child(
        ChildSpec::supervisor("inner", SupervisorSpec::one_for_all().name("reg.inner_sup")),
    ))
    .await
    .unwrap();
    assert_eq!(
        registry::lookup_supervisor("reg.top_sup").unwrap().pid(),
        top.pid()
    );
    let inner = registry::lookup_supervisor("reg.inner_sup").unwrap();
    assert_eq!(
        top.child_info("inner").await.unwrap().unwrap().pid,
        Some(inner.pid())
    );
    assert_eq!(inner.count_children().await.unwrap().specs, 0);

    let later = supervisor::start(SupervisorSpec::rest_for_one())
        .await
        .unwrap();
    registry::register("reg.later_sup", &later).unwrap();
    assert_eq!(
        registry::lookup_supervisor("reg.later_sup").unwrap().pid(),
        later.pid()
    );
    assert_eq!(
        registry::lookup::<Named>("reg.later_sup").unwrap_err(),
        LookupError::WrongType {
            name: "reg.later_sup".into(),
            pid: later.pid(),
            registered: "supervisor".into(),
            expected: "Named".into(),
        }
    );
    assert_eq!(
        registry::lookup::<Named>("reg.inner_sup")
            .unwrap_err()
            .to_string(),
        format!(
            "\"reg.inner_sup\" is registered to {}, a supervisor, not a Named",
            inner.pid()
        )
    );
}

#[tokio::test]
async fn names_and_count_include_every_registered_name() {
    let first = gen_server::start(Idle, StartOptions::new().name("reg.count.a"))
        .await
        .unwrap();
    let _second = gen_server::start(Idle, StartOptions::new().name("reg.count.b"))
        .await
        .unwrap();
    let names = registry::names();
    assert!(names.contains(&"reg.count.a".to_string()), "{names:?}");
    assert!(names.contains(&"reg.count.b".to_string()), "{names:?}");
    // Other tests of this binary may hold names too: at least these two.
    assert!(registry::count() >= 2, "{}", registry::count());
    first.stop(ExitReason::Normal).await.unwrap();
    assert!(!registry::names().contains(&"reg.count.a".to_string()));
}
