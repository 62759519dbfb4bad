//! A stand-in for the Lambda Runtime API on loopback, so that the very `bootstrap` that was
//! packaged (and deployed) runs here as Lambda would run it: the function asks for its next event
//! (`GET /2018-06-01/runtime/invocation/next`, a long poll) and posts the result
//! (`…/invocation/{id}/response` or `…/error`). [`RuntimeApi::invoke`] hands one event over and
//! waits for that result. Plain HTTP/1.1 over std sockets, keep-alive included (the runtime
//! reuses its connection); one thread per connection.
//!
//! Only what the runtime client uses is served; anything else gets 404.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const PREFIX: &str = "/2018-06-01/runtime";

/// What the function answered for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `…/response`: the handler's result.
    Response(Value),
    /// `…/error` or `/init/error`: the error the runtime reported.
    Error(Value),
}

/// One event waiting to be taken by the function.
struct Pending {
    id: String,
    body: String,
    deadline_ms: u128,
}

#[derive(Default)]
struct State {
    pending: VecDeque<Pending>,
    answers: HashMap<String, mpsc::Sender<Answer>>,
    init_error: Option<Value>,
}

/// What the serving threads share with the stand-in.
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// What the function is told it is (`Lambda-Runtime-Invoked-Function-Arn`).
    function_arn: String,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The stand-in. Its threads are detached: they serve for as long as the process lives.
pub struct RuntimeApi {
    address: String,
    shared: Arc<Shared>,
    counter: Mutex<u64>,
}

impl RuntimeApi {
    /// Listens on a free loopback port. `function_arn` is what the function is told it is
    /// (`Lambda-Runtime-Invoked-Function-Arn`): the account and region it acts in.
    pub fn start(function_arn: &str) -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            wake: Condvar::new(),
            function_arn: function_arn.to_string(),
        });
        let serving = shared.clone();
        std::thread::spawn(move || {
            for connection in listener.incoming().flatten() {
                let shared = serving.clone();
                std::thread::spawn(move || serve(connection, &shared));
            }
        });
        Ok(RuntimeApi {
            address,
            shared,
            counter: Mutex::new(0),
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API` for the function.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The environment variables a function needs besides its own settings.
    pub fn function_env(&self, name: &str) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address()),
            ("AWS_LAMBDA_FUNCTION_NAME", name),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "local"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/local"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Hands `event` to the function and waits (at most `timeout`) for its answer; the function
    /// is told its deadline is `timeout` away.
    pub fn invoke(&self, event: &Value, timeout: Duration) -> anyhow::Result<Answer> {
        let id = {
            let mut counter = self.counter.lock().unwrap_or_else(|p| p.into_inner());
            *counter += 1;
            format!("local-{}", *counter)
        };
        let (sender, receiver) = mpsc::channel();
        {
            let mut state = self.shared.state();
            if let Some(error) = &state.init_error {
                anyhow::bail!("the function failed to start: {error}");
            }
            state.answers.insert(id.clone(), sender);
            state.pending.push_back(Pending {
                id: id.clone(),
                body: event.to_string(),
                deadline_ms: (SystemTime::now() + timeout)
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis(),
            });
            self.shared.wake.notify_all();
        }
        receiver
            .recv_timeout(timeout + Duration::from_secs(5))
            .map_err(|_| anyhow::anyhow!("the function did not answer event {id} in time"))
    }
}

/// Serves one connection: request after request until the peer closes it.
fn serve(connection: TcpStream, shared: &Shared) {
    let Ok(mut writer) = connection.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(connection);
    while let Some((method, path, body)) = read_request(&mut reader) {
        let reply = match (method.as_str(), path.as_str()) {
            ("GET", path) if path == format!("{PREFIX}/invocation/next") => {
                next_event(shared).map(|pending| {
                    let function_arn = shared.function_arn.clone();
                    Reply {
                        status: 200,
                        headers: vec![
                            ("Content-Type", "application/json".to_string()),
                            ("Lambda-Runtime-Aws-Request-Id", pending.id),
                            (
                                "Lambda-Runtime-Deadline-Ms",
                                pending.deadline_ms.to_string(),
                            ),
                            ("Lambda-Runtime-Invoked-Function-Arn", function_arn),
                            (
                                "Lambda-Runtime-Trace-Id",
                                "Root=1-00000000-000000000000000000000000".to_string(),
                            ),
                        ],
                        body: pending.body,
                    }
                })
            }
            ("POST", path) if path == format!("{PREFIX}/init/error") => {
                let mut state = shared.state();
                state.init_error = Some(parsed(&body));
                for (_, sender) in state.answers.drain() {
                    let _ = sender.send(Answer::Error(parsed(&body)));
                }
                Some(Reply::accepted())
            }
            ("POST", path) => answer(shared, path, &body),
            _ => None,
        };
        let reply = reply.unwrap_or(Reply {
            status: 404,
            headers: Vec::new(),
            body: String::new(),
        });
        if reply.write(&mut writer).is_err() {
            return;
        }
    }
}

/// Waits for the next pending event.
fn next_event(shared: &Shared) -> Option<Pending> {
    let mut state = shared.state();
    loop {
        if let Some(pending) = state.pending.pop_front() {
            return Some(pending);
        }
        state = shared.wake.wait(state).unwrap_or_else(|p| p.into_inner());
    }
}

/// `…/invocation/{id}/response` or `…/invocation/{id}/error`.
fn answer(shared: &Shared, path: &str, body: &str) -> Option<Reply> {
    let rest = path.strip_prefix(&format!("{PREFIX}/invocation/"))?;
    let (id, kind) = rest.split_once('/')?;
    let answer = match kind {
        "response" => Answer::Response(parsed(body)),
        "error" => Answer::Error(parsed(body)),
        _ => return None,
    };
    let sender = shared.state().answers.remove(id)?;
    let _ = sender.send(answer);
    Some(Reply::accepted())
}

fn parsed(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()))
}

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Reply {
    fn accepted() -> Reply {
        Reply {
            status: 202,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        let reason = match self.status {
            200 => "OK",
            202 => "Accepted",
            _ => "Not Found",
        };
        let mut head = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        out.write_all(head.as_bytes())?;
        out.write_all(self.body.as_bytes())?;
        out.flush()
    }
}

/// The largest body the stand-in reads: Lambda's payload quota for a synchronous invocation's
/// request and response, 6 MB
/// (<https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>). A function that
/// sends more would fail in Lambda too.
const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// The longest request line or header the stand-in reads (8 KiB, as common HTTP servers).
const MAX_LINE_BYTES: u64 = 8 * 1024;

/// One HTTP/1.1 request: method, path and body (by `Content-Length`); `None` at the end of the
/// connection or on anything unreadable: a line longer than 8 KiB, or a `Content-Length` above
/// [`MAX_BODY_BYTES`] (never allocated).
fn read_request(reader: &mut impl BufRead) -> Option<(String, String, String)> {
    let mut line = String::new();
    if read_line_capped(reader, &mut line)? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        read_line_capped(reader, &mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    if length > MAX_BODY_BYTES {
        return None;
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, String::from_utf8_lossy(&body).into_owned()))
}

/// One line of at most [`MAX_LINE_BYTES`]; `None` when it is longer or unreadable.
fn read_line_capped(reader: &mut impl BufRead, line: &mut String) -> Option<usize> {
    let read = Read::by_ref(reader)
        .take(MAX_LINE_BYTES)
        .read_line(line)
        .ok()?;
    (read < MAX_LINE_BYTES as usize || line.ends_with('\n')).then_some(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_read_within_bounds_and_refused_beyond_them() {
        let read = |bytes: &[u8]| read_request(&mut std::io::BufReader::new(bytes));
        assert_eq!(
            read(b"POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nok"),
            Some(("POST".into(), "/x".into(), "ok".into()))
        );
        // A length above Lambda's 6 MB is refused before anything is allocated.
        assert_eq!(
            read(b"POST /x HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n"),
            None
        );
        let over = format!(
            "POST /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        assert_eq!(read(over.as_bytes()), None);
        // A header line without end.
        let endless = format!("GET /x HTTP/1.1\r\nX: {}", "a".repeat(20_000));
        assert_eq!(read(endless.as_bytes()), None);
    }

    /// A function in a thread, speaking the Runtime API as `lambda_runtime` does: one
    /// keep-alive connection, `next`, then `response` (or `error` for an event asking for one).
    fn function(address: String) {
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect(&address).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                write!(
                    stream,
                    "GET {PREFIX}/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"
                )
                .unwrap();
                let mut id = String::new();
                let mut length = 0;
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                assert!(line.starts_with("HTTP/1.1 200"), "{line}");
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let header = header.trim_end().to_string();
                    if header.is_empty() {
                        break;
                    }
                    let (name, value) = header.split_once(": ").unwrap();
                    match name {
                        "Lambda-Runtime-Aws-Request-Id" => id = value.to_string(),
                        "Content-Length" => length = value.parse().unwrap(),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let event: Value = serde_json::from_slice(&body).unwrap();
                let (kind, reply) = if event["fail"] == true {
                    (
                        "error",
                        r#"{"errorType":"Boom","errorMessage":"asked to"}"#.to_string(),
                    )
                } else {
                    ("response", format!(r#"{{"echo":{event}}}"#))
                };
                write!(
                    stream,
                    "POST {PREFIX}/invocation/{id}/{kind} HTTP/1.1\r\nContent-Length: {}\r\n\r\n{reply}",
                    reply.len()
                )
                .unwrap();
                let mut status = String::new();
                reader.read_line(&mut status).unwrap();
                assert!(status.starts_with("HTTP/1.1 202"), "{status}");
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    if header.trim_end().is_empty() {
                        break;
                    }
                }
            }
        });
    }

    #[test]
    fn events_go_out_one_at_a_time_and_answers_come_back() {
        let api = RuntimeApi::start("arn:aws:lambda:eu-west-1:123456789012:function:f").unwrap();
        function(api.address().to_string());
        let ok = api
            .invoke(&serde_json::json!({"n": 1}), Duration::from_secs(10))
            .unwrap();
        assert_eq!(ok, Answer::Response(serde_json::json!({"echo": {"n": 1}})));
        let failed = api
            .invoke(&serde_json::json!({"fail": true}), Duration::from_secs(10))
            .unwrap();
        assert_eq!(
            failed,
            Answer::Error(serde_json::json!({"errorType": "Boom", "errorMessage": "asked to"}))
        );
        assert!(
            api.function_env("f")
                .iter()
                .any(|(k, v)| k == "AWS_LAMBDA_RUNTIME_API" && v == api.address())
        );
    }
}
