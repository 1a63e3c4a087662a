//! Vendor connections are reused: a steady load opens no more connections to the vendor
//! than there are requests in flight at once (pingora's own pool dropped 2–7 % of them
//! under load, opening a new connection each time).
#![allow(clippy::unwrap_used)]

use crate::common::*;

#[test]
fn sequential_cuts_reuse_one_vendor_connection() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);

    for i in 0..50 {
        // Unknown clients: the vendor answers 404 with a body, which is read to its end.
        disconnect(&sever, &format!("sensor-{i}"));
    }

    assert_eq!(sim.calls().len(), 50);
    assert_eq!(
        sim.connections_accepted(),
        1,
        "one kept-alive connection expected"
    );
}

#[test]
fn concurrent_cuts_open_at_most_as_many_vendor_connections_as_are_in_flight() {
    const CALLERS: usize = 8;
    const EACH: usize = 40;
    let sim = sim(&[]);
    let sever = start(&sim);

    std::thread::scope(|scope| {
        for caller in 0..CALLERS {
            let sever = &sever;
            scope.spawn(move || {
                for i in 0..EACH {
                    let reply = disconnect(sever, &format!("c{caller}-{i}"));
                    reply.expect_problem(404, "target_not_found");
                }
            });
        }
    });

    assert_eq!(sim.calls().len(), CALLERS * EACH);
    let opened = sim.connections_accepted();
    assert!(
        (1..=CALLERS as u64).contains(&opened),
        "{opened} vendor connections for {} requests from {CALLERS} callers",
        CALLERS * EACH
    );
}
