//! Misbehaving plugins fail alone, with an error that names what they did,
//! while a healthy plugin in the same host keeps answering.

use std::sync::Arc;
use std::time::Duration;

use statusport_core::domain::platform::{Dimension, Origin, PlatformError};
use statusport_runtime::call::{Blame, CallContext, CallReport};
use statusport_runtime::registry::{LoadedPlugin, load_file};
use statusport_runtime::{CallError, ChannelContext, Limits, MemoryState, Runtime, TrapKind};
use statusport_tests::fake::serve;
use statusport_tests::fake::woocommerce::WooCommerce;
use statusport_tests::{channel, fault_path, load, plugin_path, runtime};

fn limits() -> Limits {
    Limits {
        deadline: Duration::from_secs(1),
        ..Limits::default()
    }
}

async fn push(
    rt: &Arc<Runtime>,
    plugin: &LoadedPlugin,
    ctx: &CallContext,
) -> CallReport<statusport_core::domain::platform::Receipt> {
    rt.push_status(
        &plugin.callee(),
        ctx,
        "1",
        Dimension::Order,
        "open",
        "done",
        "k",
    )
    .await
}

fn trap_of<T: std::fmt::Debug>(report: &CallReport<T>) -> (TrapKind, String) {
    match &report.result {
        Err(CallError::Trap { kind, message }) => (*kind, message.clone()),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_fails_alone_while_a_healthy_plugin_keeps_answering() {
    let rt = runtime(limits(), None);
    let generic = Arc::new(load(&rt, &plugin_path("generic")).await);
    let mut faults = Vec::new();
    for name in ["trap", "spin", "hog", "deep"] {
        faults.push(Arc::new(load(&rt, &fault_path(name)).await));
    }
    let ctx = channel("http://127.0.0.1:9", &[]);

    // The healthy plugin answers throughout, while every fault runs.
    let healthy = {
        let (rt, generic, ctx) = (rt.clone(), generic.clone(), ctx.clone());
        tokio::spawn(async move {
            let mut answered = 0;
            for _ in 0..40 {
                let r = rt
                    .push_status(
                        &generic.callee(),
                        &ctx,
                        "1",
                        Dimension::Order,
                        "received",
                        "processing",
                        "k",
                    )
                    .await;
                r.result.expect("the healthy plugin answers");
                answered += 1;
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            answered
        })
    };
    let mut runs = Vec::new();
    for plugin in &faults {
        let (rt, plugin, ctx) = (rt.clone(), plugin.clone(), ctx.clone());
        runs.push(tokio::spawn(async move { push(&rt, &plugin, &ctx).await }));
    }
    let mut reports = Vec::new();
    for run in runs {
        reports.push(run.await.expect("the call task ends"));
    }
    assert_eq!(healthy.await.unwrap(), 40);

    let (kind, message) = trap_of(&reports[0]);
    assert_eq!(kind, TrapKind::Panic);
    assert!(
        message.starts_with("plugin fault-trap 1.0.0: panicked in push-status: deliberate failure in push-status (at plugins/faults/trap/src/lib.rs:"),
        "{message}"
    );
    assert!(
        reports[0]
            .output
            .contains("deliberate failure in push-status")
    );

    // Stopped by an epoch tick, at a fuel slice or, when both came late,
    // by its fuel after the deadline: a deadline each time.
    assert_eq!(
        trap_of(&reports[1]),
        (
            TrapKind::Deadline,
            "plugin fault-spin 1.0.0: deadline exceeded: push-status ran longer than 1s and was stopped".into()
        )
    );
    assert!(
        reports[1].elapsed >= Duration::from_secs(1),
        "{:?}",
        reports[1].elapsed
    );

    let (kind, message) = trap_of(&reports[2]);
    assert_eq!(kind, TrapKind::OutOfMemory);
    assert!(
        message.starts_with(
            "plugin fault-hog 1.0.0: out of memory: push-status tried to grow its memory to "
        ),
        "{message}"
    );
    assert!(message.ends_with("bytes; the cap is 64 MiB"), "{message}");

    assert_eq!(
        trap_of(&reports[3]),
        (
            TrapKind::StackOverflow,
            "plugin fault-deep 1.0.0: stack overflow in push-status".into()
        )
    );

    for report in &reports {
        let error = report.result.as_ref().unwrap_err();
        assert!(
            error.is_retryable(),
            "a trap is a transient failure of its job"
        );
        assert_eq!(error.blame(), Blame::Guest);
    }

    // Every fault plugin is still callable: a trap poisons only its store.
    let again = push(&rt, &faults[0], &ctx).await;
    assert_eq!(trap_of(&again).0, TrapKind::Panic);
}

#[tokio::test]
async fn running_out_of_the_stack_in_linear_memory_is_a_stack_overflow() {
    let rt = runtime(limits(), None);
    let plugin = load(&rt, &fault_path("deep")).await;
    let ctx = channel("http://127.0.0.1:9", &[]);
    let report = rt
        .upload_shipment(&plugin.callee(), &ctx, &empty_shipment(), "k")
        .await;
    assert_eq!(
        trap_of(&report),
        (
            TrapKind::StackOverflow,
            "plugin fault-deep 1.0.0: stack overflow in upload-shipment: the plugin's stack in linear memory ran out (deep recursion in statusport_fault_deep::descend_memory)".into()
        )
    );
}

fn empty_shipment() -> statusport_core::domain::shipment::Shipment {
    statusport_core::domain::shipment::Shipment {
        id: "s".into(),
        platform_order_id: "1".into(),
        shipped_at: "2026-01-01T00:00:00Z".into(),
        packages: vec![],
    }
}

#[tokio::test]
async fn an_unreachable_instruction_is_a_trap_naming_the_function() {
    let rt = runtime(limits(), None);
    let plugin = load(&rt, &fault_path("trap")).await;
    let ctx = channel("http://127.0.0.1:9", &[]);
    let shipment = statusport_core::domain::shipment::Shipment {
        id: "s".into(),
        platform_order_id: "1".into(),
        shipped_at: "2026-01-01T00:00:00Z".into(),
        packages: vec![],
    };
    let report = rt
        .upload_shipment(&plugin.callee(), &ctx, &shipment, "k")
        .await;
    let (kind, message) = trap_of(&report);
    assert_eq!(kind, TrapKind::Trap);
    assert!(
        message.starts_with("plugin fault-trap 1.0.0: trapped in upload-shipment: wasm `unreachable` instruction executed"),
        "{message}"
    );
}

#[tokio::test]
async fn a_busy_plugin_runs_out_of_fuel_before_its_deadline() {
    let rt = runtime(
        Limits {
            fuel: 20_000_000,
            deadline: Duration::from_secs(30),
            ..Limits::default()
        },
        None,
    );
    let plugin = load(&rt, &fault_path("spin")).await;
    let report = push(&rt, &plugin, &channel("http://127.0.0.1:9", &[])).await;
    assert_eq!(
        trap_of(&report),
        (
            TrapKind::OutOfFuel,
            "plugin fault-spin 1.0.0: out of fuel: push-status ran more than 20000000 instructions"
                .into()
        )
    );
    assert!(report.elapsed < Duration::from_secs(30));
}

/// An epoch ticker that never ticks during the test: a machine so loaded
/// that the ticker thread does not run.
fn starved_ticker(limits: Limits) -> Limits {
    Limits {
        epoch_tick: Duration::from_secs(3600),
        ..limits
    }
}

#[tokio::test]
async fn a_busy_plugin_is_stopped_at_its_deadline_when_the_epoch_ticker_is_starved() {
    let limits = starved_ticker(limits());
    let rt = runtime(limits.clone(), None);
    let plugin = load(&rt, &fault_path("spin")).await;
    let report = push(&rt, &plugin, &channel("http://127.0.0.1:9", &[])).await;
    assert_eq!(
        trap_of(&report),
        (
            TrapKind::Deadline,
            "plugin fault-spin 1.0.0: deadline exceeded: push-status ran longer than 1s and was stopped".into()
        )
    );
    assert!(report.elapsed >= limits.deadline, "{:?}", report.elapsed);
    // Stopped by the clock, read at every fuel slice, not by its fuel.
    assert!(
        report.fuel_used < limits.fuel,
        "used {} of {} fuel",
        report.fuel_used,
        limits.fuel
    );
}

#[tokio::test]
async fn fuel_that_runs_out_after_the_deadline_is_a_deadline() {
    // The deadline has passed before the plugin starts, and its fuel ends
    // within one slice, so nothing looks at the clock before the fuel is
    // gone: only the classification can name the deadline.
    let limits = starved_ticker(Limits {
        deadline: Duration::ZERO,
        fuel: 5_000_000,
        ..Limits::default()
    });
    let rt = runtime(limits.clone(), None);
    let plugin = load(&rt, &fault_path("spin")).await;
    let report = push(&rt, &plugin, &channel("http://127.0.0.1:9", &[])).await;
    assert_eq!(report.fuel_used, limits.fuel, "the fuel ran out");
    assert_eq!(
        trap_of(&report),
        (
            TrapKind::Deadline,
            "plugin fault-spin 1.0.0: deadline exceeded: push-status ran longer than 0ns and was stopped".into()
        )
    );
}

#[tokio::test]
async fn a_forbidden_host_is_refused_and_recorded_while_the_base_url_is_reachable() {
    let rt = runtime(limits(), None);
    let plugin = load(&rt, &fault_path("sneak")).await;
    let shop = serve(WooCommerce::new(&[])).await;
    let other = serve(WooCommerce::new(&[])).await;
    let base = url::Url::parse(&shop.url).unwrap();
    let targets = format!("{},{},http://forbidden.example", shop.url, other.url);
    let ctx = CallContext {
        channel: Arc::new(ChannelContext {
            id: "c1".into(),
            base_url: Some(base),
            config: [("targets".to_owned(), targets)].into(),
            // Granted by the operator, but not declared by the plugin: still refused.
            granted_hosts: vec![Origin::parse(&other.url).unwrap()],
        }),
        state: Arc::new(MemoryState::default()),
    };
    let report = push(&rt, &plugin, &ctx).await;
    let other_origin = format!("{}", Origin::parse(&other.url).unwrap());
    assert_eq!(
        report.denied,
        [
            other_origin.clone(),
            "http://forbidden.example:80".to_owned()
        ]
    );
    match &report.result {
        Err(CallError::Platform(PlatformError::Config { message })) => assert_eq!(
            message,
            &format!(
                "GET {}/: the host refused this origin; only the channel's base URL and the extra hosts granted to the channel are reachable",
                other.url
            )
        ),
        other => panic!("expected a config error, got {other:?}"),
    }
    // The base URL was reached; the forbidden ones never were.
    assert_eq!(report.sent.len(), 1);
    assert_eq!(report.sent[0].status, Some(401));
    assert_eq!(shop.received().len(), 1);
    assert!(other.received().is_empty());
}

#[tokio::test]
async fn a_platform_that_never_answers_ends_the_call_near_its_deadline() {
    let rt = runtime(limits(), None);
    let plugin = load(&rt, &plugin_path("woocommerce")).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let ctx = channel(&url, &[("consumer-key", "ck"), ("consumer-secret", "cs")]);
    let report = rt
        .push_status(
            &plugin.callee(),
            &ctx,
            "7",
            Dimension::Order,
            "pending",
            "completed",
            "k",
        )
        .await;
    hold.abort();
    let error = report.result.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(
        report.elapsed >= Duration::from_secs(1),
        "{:?}",
        report.elapsed
    );
    assert!(
        report.elapsed < Duration::from_secs(3),
        "{:?}",
        report.elapsed
    );
}

#[tokio::test]
async fn a_malformed_describe_is_refused_with_every_problem() {
    let rt = runtime(limits(), None);
    let path = fault_path("malformed");
    let reason = load_file(&rt, &path).await.unwrap_err();
    assert_eq!(
        reason,
        format!(
            "{}: describe is invalid: id \"Fault Malformed!\" must be 1-64 lower-case letters, digits or '-', not starting with '-'; \
             version \"one.two\" is not semver (unexpected character 'o' while parsing major version number); \
             order status \"open\" is declared twice; \
             transition open → vanished names \"vanished\", which is not a order status (known: open); \
             extra host \"not a url\" is not a URL (relative URL without a base); write scheme://host[:port]",
            path.display()
        )
    );
}
