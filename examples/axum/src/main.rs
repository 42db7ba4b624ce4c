//! An axum server that serves a page at `/` and upgrades `/ws` to an rfc6455 WebSocket which
//! echoes every message: the application's HTTP stack (axum on hyper 1.x), this crate's
//! WebSocket.
//!
//! ```text
//! cd examples/axum && cargo run --release -- 127.0.0.1:8080
//! ```
//! Then open <http://127.0.0.1:8080/>, or from the repository's root:
//! `cargo run --example client -- ws://127.0.0.1:8080/ws`.
//!
//! axum has already parsed the request, so the handler checks the upgrade headers itself
//! ([`accept_value`]), answers 101 with `Sec-WebSocket-Accept`, and runs the connection hyper
//! hands over with [`WebSocket::from_stream`].

use std::process::ExitCode;

use axum::Router;
use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{StatusCode, Version};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use rfc6455::handshake::{HeaderError, RequestError, accept_key};
use rfc6455::tokio::{Message, WebSocket};
use rfc6455::{Config, Role};
use tokio::net::TcpListener;

/// The page at `/`: a text box whose lines go to `/ws` and come back.
const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>rfc6455 on axum</title>
<form id="f"><input id="m" autocomplete="off" autofocus> <button>send</button></form>
<pre id="log"></pre>
<script>
const log = (line) => document.getElementById("log").textContent += line + "\n";
const ws = new WebSocket(`ws://${location.host}/ws`);
ws.onopen = () => log("open");
ws.onmessage = (e) => log("< " + e.data);
ws.onclose = (e) => log(`closed: ${e.code} ${e.reason}`);
document.getElementById("f").onsubmit = (e) => {
  e.preventDefault();
  const m = document.getElementById("m");
  ws.send(m.value); log("> " + m.value); m.value = "";
};
</script>
"#;

#[tokio::main]
async fn main() -> ExitCode {
    let addr = std::env::args().nth(1);
    let addr = addr.as_deref().unwrap_or("127.0.0.1:8080");
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Ok(local) = listener.local_addr() {
        eprintln!("axum: http://{local}/ (WebSocket at ws://{local}/ws)");
    }
    match axum::serve(listener, app()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The routes: the page, and the WebSocket (`get`: axum answers other methods with 405).
fn app() -> Router {
    Router::new()
        .route("/", get(Html(PAGE)))
        .route("/ws", get(upgrade))
}

/// Validates the upgrade, answers 101, and echoes on the connection once hyper hands it over.
async fn upgrade(mut request: Request) -> Response {
    let accept = match accept_value(request.version(), request.headers()) {
        Ok(accept) => accept,
        Err(e) => return refuse(&e),
    };
    // Resolves once the 101 below is written; the connection is then ours.
    let upgraded = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match upgraded.await {
            Ok(io) => {
                let ws = WebSocket::from_stream(TokioIo::new(io), Role::Server, Config::default());
                echo(ws).await;
            }
            Err(e) => eprintln!("axum: /ws: upgrade failed: {e}"),
        }
    });
    let headers = [
        (header::UPGRADE, HeaderValue::from_static("websocket")),
        (header::CONNECTION, HeaderValue::from_static("Upgrade")),
        (header::SEC_WEBSOCKET_ACCEPT, accept),
    ];
    (StatusCode::SWITCHING_PROTOCOLS, headers).into_response()
}

/// Checks what [RFC 6455 section 4.2.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1)
/// asks of a request (the route checks the method), as `ServerHandshake::recv` does on raw
/// bytes, and returns the `Sec-WebSocket-Accept` value for its key. Errors are the crate's own,
/// so that their status and text are the ones its servers answer with.
fn accept_value(version: Version, headers: &HeaderMap) -> Result<HeaderValue, RequestError> {
    if version != Version::HTTP_11 {
        return Err(RequestError::Header(HeaderError::HttpVersion));
    }
    match single(headers, header::HOST) {
        Ok(_) => {}
        Err(0) => return Err(RequestError::MissingHost),
        Err(_) => return Err(RequestError::DuplicateHost),
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(RequestError::Header(HeaderError::NoUpgradeWebsocket));
    }
    if has_body(headers) {
        return Err(RequestError::HasBody);
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(RequestError::Header(HeaderError::NoConnectionUpgrade));
    }
    match single(headers, header::SEC_WEBSOCKET_VERSION) {
        Ok(b"13") => {}
        Err(0) => return Err(RequestError::MissingVersion),
        _ => return Err(RequestError::UnsupportedVersion),
    }
    let key = match single(headers, header::SEC_WEBSOCKET_KEY) {
        Ok(key) if is_key(key) => key,
        Ok(_) => return Err(RequestError::InvalidKey),
        Err(0) => return Err(RequestError::MissingKey),
        Err(_) => return Err(RequestError::DuplicateKey),
    };
    HeaderValue::from_bytes(&accept_key(key)).map_err(|_| RequestError::InvalidKey)
}

/// The trimmed value of the one header called `name`; `Err` with 0 if there is none, 2 if
/// several.
fn single(headers: &HeaderMap, name: HeaderName) -> Result<&[u8], usize> {
    let mut values = headers.get_all(name).into_iter();
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value.as_bytes().trim_ascii()),
        (None, _) => Err(0),
        (Some(_), Some(_)) => Err(2),
    }
}

/// Whether the request announces a body (any `Transfer-Encoding`, a `Content-Length` other
/// than 0): refused, as the crate's own server refuses it, since nothing may come between the
/// request and the first frame.
fn has_body(headers: &HeaderMap) -> bool {
    let zero = |v: &[u8]| !v.is_empty() && v.iter().all(|&b| b == b'0');
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get_all(header::CONTENT_LENGTH)
            .into_iter()
            .any(|v| !zero(v.as_bytes().trim_ascii()))
}

/// Whether the comma-separated token lists of the headers called `name` hold `token`,
/// case-insensitively.
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .into_iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .any(|element| element.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Whether `key` is the canonical base64 of 16 bytes: 22 characters of the alphabet, the last
/// with its 4 unused bits zero, and `==`.
fn is_key(key: &[u8]) -> bool {
    let alphabet = |b: &u8| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/';
    match key {
        [head @ .., last, b'=', b'='] if head.len() == 21 => {
            head.iter().all(alphabet) && b"AQgw".contains(last)
        }
        _ => false,
    }
}

/// The crate's answer to a bad request: its status, its text, and for a 426 the version and
/// upgrade it wants ([RFC 6455 section 4.4](https://www.rfc-editor.org/rfc/rfc6455#section-4.4)).
fn refuse(e: &RequestError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, format!("{e}\n")).into_response();
    if status == StatusCode::UPGRADE_REQUIRED {
        let headers = response.headers_mut();
        headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
    response
}

/// Sends every text and binary message back; pings are answered and the close handshake is
/// completed by the library.
async fn echo(mut ws: WebSocket<TokioIo<Upgraded>>) {
    loop {
        let sent = match ws.read().await {
            Ok(Some(Message::Text(text))) => ws.send_text(&text).await,
            Ok(Some(Message::Binary(data))) => ws.send_binary(&data).await,
            Ok(Some(_)) => Ok(()), // ping (already answered), pong, or the peer's close
            Ok(None) => return,
            Err(e) => return eprintln!("axum: /ws: {e}"),
        };
        if let Err(e) = sent {
            return eprintln!("axum: /ws: {e}");
        }
    }
}

#[cfg(test)]
mod tests;
