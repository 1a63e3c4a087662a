//! `sever-bench-client`: the load benchmark's own HTTP/1.1 clients (std only).
//!
//! ```text
//! sever-bench-client rate ADDR RATE SECS CONNS WARMUP_SECS TOKEN BODY
//! sever-bench-client idle ADDR COUNT HOLD_SECS TOKEN BODY
//! ```
//!
//! Both send `POST /v1/actions` with `Authorization: Bearer TOKEN`, `Content-Type:
//! application/json` and BODY over keep-alive connections.
//!
//! `rate` is an open-loop, constant-rate load generator (what `wrk2` or `oha -q` do): request
//! `i` of connection `k` is due at `(i·CONNS + k) / RATE` seconds, and its latency counts from
//! the moment it was due when the connection was late (a slow answer delays the next request
//! on that connection, and that wait is counted: no coordinated omission), or from when the
//! thread woke up when it was on time (so timer slack is not counted). One thread per
//! connection; the first WARMUP_SECS are not recorded. Prints one JSON line.
//!
//! `idle` opens COUNT connections one after another, sends one request on each and reads its
//! answer, prints `open COUNT` once all are open and idle, then holds them for HOLD_SECS.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn request_bytes(token: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /v1/actions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One keep-alive connection that sends a fixed request and reads whole answers.
struct Connection {
    reader: BufReader<TcpStream>,
    request: Vec<u8>,
}

impl Connection {
    fn open(addr: SocketAddr, request: &[u8]) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Connection {
            reader: BufReader::with_capacity(16 * 1024, stream),
            request: request.to_vec(),
        })
    }

    /// Sends the request and reads the answer; returns its status.
    fn exchange(&mut self) -> std::io::Result<u16> {
        self.reader.get_mut().write_all(&self.request)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = None;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other("closed inside the head"));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        let length = length.ok_or_else(|| std::io::Error::other("answer without length"))?;
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(status)
    }
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    ok: u64,
    other_status: u64,
    errors: u64,
}

fn run_connection(
    addr: SocketAddr,
    request: &[u8],
    start: Instant,
    first_due: Duration,
    period: Duration,
    warmup: Duration,
    end: Duration,
) -> Tally {
    let mut tally = Tally::default();
    let mut conn = match Connection::open(addr, request) {
        Ok(c) => c,
        Err(_) => {
            tally.errors += 1;
            return tally;
        }
    };
    let mut due = first_due;
    while due < end {
        let now = start.elapsed();
        let from = if now < due {
            std::thread::sleep(due - now);
            Instant::now()
        } else {
            start + due
        };
        let result = conn.exchange();
        let latency = from.elapsed();
        if due >= warmup {
            match result {
                Ok(200) => tally.ok += 1,
                Ok(_) => tally.other_status += 1,
                Err(_) => tally.errors += 1,
            }
            let us = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
            tally.latencies_us.push(us);
        }
        if result.is_err() {
            match Connection::open(addr, request) {
                Ok(c) => conn = c,
                Err(_) => std::thread::sleep(period),
            }
        }
        due += period;
    }
    tally
}

/// The nearest-rank percentile `per_mille / 10` % of sorted values (integer arithmetic, so
/// that 99.9 % of 1000 values is the 999th, not the 1000th through rounding).
fn percentile(sorted: &[u32], per_mille: usize) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (per_mille * sorted.len()).div_ceil(1000);
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn rate(args: &[String]) -> Result<(), String> {
    let [addr, rate, secs, conns, warmup, token, body] = args else {
        return Err("rate ADDR RATE SECS CONNS WARMUP_SECS TOKEN BODY".into());
    };
    let addr: SocketAddr = addr.parse().map_err(|e| format!("ADDR: {e}"))?;
    let number = |s: &str, what: &str| s.parse::<f64>().map_err(|e| format!("{what}: {e}"));
    let rate = number(rate, "RATE")?;
    let secs = number(secs, "SECS")?;
    let warmup = number(warmup, "WARMUP_SECS")?;
    let conns = conns.parse::<u32>().map_err(|e| format!("CONNS: {e}"))?;
    if rate <= 0.0 || conns == 0 {
        return Err("RATE and CONNS must be positive".into());
    }
    let request = request_bytes(token, body);
    let period = Duration::from_secs_f64(f64::from(conns) / rate);
    let warmup = Duration::from_secs_f64(warmup);
    let end = warmup + Duration::from_secs_f64(secs);
    // Connections open during the first 100 ms, before anything is due.
    let start = Instant::now() + Duration::from_millis(100);
    let handles: Vec<_> = (0..conns)
        .map(|k| {
            let request = request.clone();
            let first_due = Duration::from_secs_f64(f64::from(k) / rate);
            std::thread::spawn(move || {
                run_connection(addr, &request, start, first_due, period, warmup, end)
            })
        })
        .collect();
    let mut all = Tally::default();
    for h in handles {
        let t = h.join().map_err(|_| "a connection thread panicked")?;
        all.latencies_us.extend(t.latencies_us);
        all.ok += t.ok;
        all.other_status += t.other_status;
        all.errors += t.errors;
    }
    all.latencies_us.sort_unstable();
    let l = &all.latencies_us;
    println!(
        "{{\"requests\":{},\"ok\":{},\"other_status\":{},\"errors\":{},\"secs\":{secs},\
         \"p50_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{}}}",
        l.len(),
        all.ok,
        all.other_status,
        all.errors,
        percentile(l, 500),
        percentile(l, 990),
        percentile(l, 999),
        l.last().copied().unwrap_or(0),
    );
    Ok(())
}

fn idle(args: &[String]) -> Result<(), String> {
    let [addr, count, hold, token, body] = args else {
        return Err("idle ADDR COUNT HOLD_SECS TOKEN BODY".into());
    };
    let addr: SocketAddr = addr.parse().map_err(|e| format!("ADDR: {e}"))?;
    let count = count.parse::<usize>().map_err(|e| format!("COUNT: {e}"))?;
    let hold = hold.parse::<u64>().map_err(|e| format!("HOLD_SECS: {e}"))?;
    let request = request_bytes(token, body);
    let mut open = Vec::with_capacity(count);
    for i in 0..count {
        let mut conn =
            Connection::open(addr, &request).map_err(|e| format!("connection {i}: {e}"))?;
        match conn.exchange() {
            Ok(200) => open.push(conn),
            Ok(status) => return Err(format!("connection {i}: status {status}")),
            Err(e) => return Err(format!("connection {i}: {e}")),
        }
    }
    println!("open {}", open.len());
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_secs(hold));
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("rate") => rate(&args[1..]),
        Some("idle") => idle(&args[1..]),
        _ => Err("usage: sever-bench-client rate|idle …".into()),
    };
    if let Err(e) = result {
        eprintln!("sever-bench-client: {e}");
        std::process::exit(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&v, 500), 500);
        assert_eq!(percentile(&v, 990), 990);
        assert_eq!(percentile(&v, 999), 999);
        assert_eq!(percentile(&v[..10], 999), 10);
        assert_eq!(percentile(&[], 990), 0);
    }
}
