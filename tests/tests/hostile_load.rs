//! A bounded loopback load test with hostile traffic: valid requests always succeed, invalid
//! ones are refused (never 200, never 500), and memory does not grow with the number of distinct
//! bad tokens.
//!
//! Its own test binary (one test, one process): it measures or captures process-wide state
//! (RSS, the tracing dispatcher), which tests running in parallel beside it would disturb.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failure stops the test with its message"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_e2e::{Idp, Kit, Service, b64, decode_part};
use serde_json::json;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// `count` requests, 16 at a time: every third valid, the rest distinct hostile tokens of ~3 KB.
async fn wave(
    service: &Arc<Service>,
    valid: &Arc<Vec<String>>,
    header: &str,
    claims: &str,
    start: usize,
    count: usize,
) -> (usize, usize) {
    let mut handles = Vec::new();
    let chunk = count / 16;
    for worker in 0..16 {
        let (service, valid) = (service.clone(), valid.clone());
        let (header, claims) = (header.to_owned(), claims.to_owned());
        handles.push(tokio::spawn(async move {
            let (mut ok, mut refused) = (0, 0);
            for i in 0..chunk {
                let n = start + worker * chunk + i;
                if n.is_multiple_of(3) {
                    let reply = service.hello(&valid[n % valid.len()]).await;
                    assert_eq!(
                        reply.status, 200,
                        "a valid request failed under load: {reply:?}"
                    );
                    ok += 1;
                } else {
                    let padding = "x".repeat(3000);
                    let token = if n % 3 == 1 {
                        // Unknown kid, well-formed.
                        let h = header.replace("\"kid\":\"", &format!("\"kid\":\"flood-{n}-"));
                        format!("{}.{claims}.{}", b64(h.as_bytes()), b64(padding.as_bytes()))
                    } else {
                        format!(
                            "{}.{}.{}",
                            b64(json!({"alg": "none", "n": n}).to_string().as_bytes()),
                            b64(padding.as_bytes()),
                            ""
                        )
                    };
                    let reply = service.hello(&token).await;
                    assert_eq!(
                        reply.status, 401,
                        "a hostile request was not refused: {reply:?}"
                    );
                    refused += 1;
                }
            }
            (ok, refused)
        }));
    }
    let mut totals = (0, 0);
    for handle in handles {
        let (ok, refused) = handle.await.unwrap();
        totals.0 += ok;
        totals.1 += refused;
    }
    totals
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_load_keeps_valid_requests_working_and_memory_flat() {
    let idp = Idp::start().await;
    let service = Arc::new(Service::start(Kit::JWT.config(&idp)).await);
    let mut valid = Vec::new();
    for i in 0..10 {
        valid.push(
            idp.user_token(
                &format!("user-{i}"),
                "hello:read",
                Some("urn:portcullis:hello"),
            )
            .await
            .access_token,
        );
    }
    let valid = Arc::new(valid);
    let first = valid[0].split('.').collect::<Vec<_>>();
    let header = decode_part(first[0]).to_string();
    let claims = first[1].to_owned();

    let started = Instant::now();
    wave(&service, &valid, &header, &claims, 0, 1600).await;
    let warm = rss_kib();
    let (ok, refused) = wave(&service, &valid, &header, &claims, 1600, 4800).await;
    let after = rss_kib();
    let growth_kib = after.saturating_sub(warm);
    println!(
        "hostile load: {ok} valid, {refused} refused in {:?}; RSS {warm} KiB -> {after} KiB",
        started.elapsed()
    );
    // Every response was checked one by one in `wave`; here, that the whole wave ran.
    // The second wave is requests 1600..6400: every third one valid.
    let expected_ok = (1600..6400).filter(|n: &usize| n.is_multiple_of(3)).count();
    assert_eq!((ok, refused), (expected_ok, 4800 - expected_ok));
    // The 2,133 unknown-kid tokens of the two waves cost the IdP at most one JWKS refetch per
    // second (jwks.unknown-kid-min-interval) besides the first fetch (the first unknown kids,
    // arriving while that fetch runs, share it).
    let seconds = started.elapsed().as_secs();
    let fetches = idp.stats().await.get("/jwks").copied().unwrap_or(0);
    assert!(
        (1..=2 + seconds).contains(&fetches),
        "{fetches} JWKS fetches in {seconds} s"
    );
    // 3,200 distinct ~3 KB hostile tokens: retaining them would add ~10 MB.
    assert!(
        growth_kib < 6 * 1024,
        "RSS grew {growth_kib} KiB under hostile load"
    );
    assert!(started.elapsed() < Duration::from_secs(120));
}
