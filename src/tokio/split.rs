//! Owned halves for two tasks: [`WebSocket::into_split`] gives a [`Reader`] and a
//! [`Writer`] sharing the connection and the stream behind one `std::sync::Mutex`, which is
//! held only inside a poll, never across an await.

use alloc::sync::Arc;
use core::future::poll_fn;
use core::pin::Pin;
use core::task::{Context, Poll, Waker, ready};
use std::sync::{Mutex, MutexGuard};
use std::task::Wake;

use ::tokio::io::{AsyncRead, AsyncWrite};

use super::driver::{Driver, Timer};
use super::socket::{UNBUFFERED_MIN, data_len, queue_message};
use super::{Error, Message, WebSocket};
use crate::SendError;
use crate::conn::{Connection, MessageKind, State};
use crate::frame::CloseCode;

/// The reader's slot in [`Wakers`].
const READER: usize = 0;
/// The writer's slot.
const WRITER: usize = 1;

/// The wakers of the two halves. The stream is always polled with a waker that wakes both
/// (a stream remembers one waker per direction, and either half may read or write it), and a
/// half that changed what the other waits for wakes it.
#[derive(Debug, Default)]
struct Wakers {
    slots: Mutex<[Option<Waker>; 2]>,
}

impl Wakers {
    fn register(&self, slot: usize, waker: &Waker) {
        let mut slots = lock(&self.slots);
        if let Some(s) = slots.get_mut(slot)
            && !s.as_ref().is_some_and(|w| w.will_wake(waker))
        {
            *s = Some(waker.clone());
        }
    }

    fn wake_slot(&self, slot: usize) {
        let waker = lock(&self.slots).get_mut(slot).and_then(Option::take);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let wakers = core::mem::take(&mut *lock(&self.slots));
        for waker in wakers.into_iter().flatten() {
            waker.wake();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No lock is held across a call that can panic midway, so a poisoned lock is still
    // consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Inner<S> {
    driver: Driver<S>,
    /// A message the writer's `Sink` accepted that did not fit in the send queue yet.
    unsent: Option<Message>,
    reader_alive: bool,
    writer_alive: bool,
}

struct Shared<S> {
    inner: Mutex<Inner<S>>,
    wakers: Arc<Wakers>,
    /// Wakes both halves: the waker the stream is polled with.
    both: Waker,
}

impl<S> Shared<S> {
    /// Locks the state after registering `slot`'s waker; `poll` gets the waker for both.
    fn with<T>(
        &self,
        slot: usize,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Inner<S>, &mut Context<'_>) -> T,
    ) -> T {
        self.wakers.register(slot, cx.waker());
        let mut both = Context::from_waker(&self.both);
        let mut inner = lock(&self.inner);
        poll(&mut inner, &mut both)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Splits the connection into a [`Reader`] and a [`Writer`] for two tasks. The reader
    /// answers pings and the peer's close, and runs keepalive, even while the writer waits
    /// on a slow peer; the writer sends, and its [`close`](Writer::close) completes the close
    /// handshake from its side. Neither holds the shared lock across an await, so neither
    /// can block the other.
    ///
    /// Dropping one half: dropping the [`Writer`] sends nothing (the reader still answers
    /// pings and the close; close from the reader with [`Reader::close`] if wanted).
    /// Dropping the [`Reader`] stops reading: pings go unanswered and keepalive stops until
    /// the writer's [`close`](Writer::close), which then reads (discarding messages) until
    /// the peer's close. The stream is dropped with the last half.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let ws = rfc6455::tokio::connect("ws://127.0.0.1:9002/").await?;
    /// let (mut reader, mut writer) = ws.into_split();
    /// let ticker = tokio::spawn(async move {
    ///     for i in 0..3 {
    ///         writer.send_text(&format!("tick {i}")).await?;
    ///     }
    ///     writer.close(rfc6455::CloseCode::NORMAL, "done").await
    /// });
    /// while let Some(message) = reader.read().await? {
    ///     println!("{message:?}");
    /// }
    /// ticker.await??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_split(self) -> (Reader<S>, Writer<S>) {
        let (driver, read_timeout, unsent) = self.into_driver();
        let wakers = Arc::new(Wakers::default());
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                driver,
                unsent,
                reader_alive: true,
                writer_alive: true,
            }),
            both: Waker::from(Arc::clone(&wakers)),
            wakers,
        });
        (
            Reader {
                shared: Arc::clone(&shared),
                timer: Timer::default(),
                read_timeout,
                read_deadline_set: false,
            },
            Writer {
                shared,
                timer: Timer::default(),
            },
        )
    }
}

/// The reading half of a [`WebSocket`] from [`WebSocket::into_split`]: reads messages,
/// answers pings and the close, runs keepalive. A [`Stream`](futures_core::Stream) of
/// messages. Cancel-safe as [`WebSocket::read`] is.
pub struct Reader<S> {
    shared: Arc<Shared<S>>,
    timer: Timer,
    read_timeout: Option<core::time::Duration>,
    read_deadline_set: bool,
}

/// The writing half of a [`WebSocket`] from [`WebSocket::into_split`]: sends through the
/// bounded send queue, and closes. A [`Sink`](futures_sink::Sink) of messages. Cancel-safe as
/// the sends of [`WebSocket`] are.
pub struct Writer<S> {
    shared: Arc<Shared<S>>,
    timer: Timer,
}

impl<S> core::fmt::Debug for Reader<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

impl<S> core::fmt::Debug for Writer<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl<S> Drop for Reader<S> {
    fn drop(&mut self) {
        lock(&self.shared.inner).reader_alive = false;
        self.shared.wakers.wake_slot(WRITER);
    }
}

impl<S> Drop for Writer<S> {
    fn drop(&mut self) {
        lock(&self.shared.inner).writer_alive = false;
        self.shared.wakers.wake_slot(READER);
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Reader<S> {
    /// Sets the read timeout, as [`WebSocket::set_read_timeout`] does.
    pub fn set_read_timeout(&mut self, timeout: Option<core::time::Duration>) {
        self.read_timeout = timeout;
    }

    /// Whether the [`Writer`] still exists.
    #[must_use]
    pub fn is_writer_alive(&self) -> bool {
        lock(&self.shared.inner).writer_alive
    }

    /// The next message, or `Ok(None)` once the connection is over, as
    /// [`WebSocket::read`]; cancel-safe.
    ///
    /// # Errors
    /// As for [`WebSocket::read`].
    pub async fn read(&mut self) -> Result<Option<Message>, Error> {
        {
            let mut inner = lock(&self.shared.inner);
            inner.driver.set_read_timeout(self.read_timeout);
            self.read_deadline_set = self.read_timeout.is_some();
        }
        let message = poll_fn(|cx| self.poll_message(cx)).await;
        self.clear_read_deadline();
        message.transpose()
    }

    fn clear_read_deadline(&mut self) {
        if core::mem::take(&mut self.read_deadline_set) {
            lock(&self.shared.inner).driver.conn.set_read_deadline(None);
        }
    }

    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        let timer = &mut self.timer;
        let polled = self.shared.with(READER, cx, |inner, cx| {
            Poll::Ready(match ready!(inner.driver.poll_pump(cx, timer)) {
                Ok(true) => inner
                    .driver
                    .conn
                    .next_message()
                    .map_err(Error::from)
                    .transpose(),
                Ok(false) => None,
                Err(e) => Some(Err(e)),
            })
        });
        if polled.is_ready() {
            // The writer may wait for what this changed (an event taken, the close).
            self.shared.wakers.wake_slot(WRITER);
        }
        polled
    }

    /// Closes the connection from the reading side: sends a close frame (unless one was
    /// sent), then reads until the peer's close, discarding messages, as
    /// [`WebSocket::close`] does.
    ///
    /// # Errors
    /// As for [`WebSocket::close`].
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        {
            let mut inner = lock(&self.shared.inner);
            if inner.driver.conn.state() == State::Open {
                inner.driver.conn.close(code, reason)?;
            }
        }
        self.clear_read_deadline();
        while poll_fn(|cx| self.poll_message(cx))
            .await
            .transpose()?
            .is_some()
        {}
        Ok(())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_core::Stream for Reader<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.clear_read_deadline();
        this.poll_message(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Writer<S> {
    /// Whether the [`Reader`] still exists.
    #[must_use]
    pub fn is_reader_alive(&self) -> bool {
        lock(&self.shared.inner).reader_alive
    }

    fn poll_room(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<Result<(), Error>> {
        self.shared
            .with(WRITER, cx, |inner, cx| inner.driver.poll_room(cx, len))
    }

    /// Writes out everything queued.
    ///
    /// # Errors
    /// [`Error::Io`]; what was not written stays queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| {
            self.shared.with(WRITER, cx, |inner, cx| {
                inner.driver.poll_send_out(cx).map_err(Error::from)
            })
        })
        .await
    }

    async fn send_data(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        queue: impl FnOnce(&mut Connection) -> Result<(), SendError>,
    ) -> Result<(), Error> {
        poll_fn(|cx| self.poll_room(cx, payload.len())).await?;
        let mut queue = Some(queue);
        poll_fn(|cx| {
            Poll::Ready(self.shared.with(WRITER, cx, |inner, cx| {
                let sent = payload.len() >= UNBUFFERED_MIN
                    && inner.driver.send_unbuffered(cx, kind, payload)?;
                if let Some(queue) = queue.take().filter(|_| !sent) {
                    queue(&mut inner.driver.conn)?;
                }
                Ok::<(), Error>(())
            }))
        })
        .await?;
        self.flush().await
    }

    /// Sends a text message, as [`WebSocket::send_text`] does.
    ///
    /// # Errors
    /// As for [`WebSocket::send_text`].
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send_data(MessageKind::Text, text.as_bytes(), |conn| {
            conn.send_text(text)
        })
        .await
    }

    /// Sends a binary message, as [`WebSocket::send_binary`] does.
    ///
    /// # Errors
    /// As for [`WebSocket::send_text`].
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send_data(MessageKind::Binary, data, |conn| conn.send_binary(data))
            .await
    }

    /// Sends one fragment of a message, as [`WebSocket::send_fragment`] does.
    ///
    /// # Errors
    /// As for [`WebSocket::send_fragment`].
    pub async fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        poll_fn(|cx| self.poll_room(cx, data.len())).await?;
        lock(&self.shared.inner)
            .driver
            .conn
            .send_fragment(kind, data, fin)?;
        self.flush().await
    }

    /// Sends any [`Message`], as [`WebSocket::send`] does.
    ///
    /// # Errors
    /// As for [`WebSocket::send_text`].
    pub async fn send(&mut self, message: &Message) -> Result<(), Error> {
        match message {
            Message::Text(text) => self.send_text(text).await,
            Message::Binary(data) => self.send_binary(data).await,
            _ => {
                queue_message(&mut lock(&self.shared.inner).driver.conn, message)?;
                self.flush().await
            }
        }
    }

    /// Sends a ping and writes it out.
    ///
    /// # Errors
    /// As for [`WebSocket::send_ping`].
    pub async fn send_ping(&mut self, data: &[u8]) -> Result<(), Error> {
        lock(&self.shared.inner).driver.conn.send_ping(data)?;
        self.flush().await
    }

    /// Closes the connection from the writing side: sends a close frame (unless one was
    /// sent) and waits until the close handshake completes. While the [`Reader`] exists, it
    /// delivers the messages that come before the peer's close (this waits for it to take
    /// them) and then the close; once it was dropped, this reads itself, discarding
    /// messages. The close timeout bounds the wait either way.
    ///
    /// # Errors
    /// As for [`WebSocket::close`].
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        {
            let mut inner = lock(&self.shared.inner);
            if inner.driver.conn.state() == State::Open {
                inner.driver.conn.close(code, reason)?;
            }
        }
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let timer = &mut self.timer;
        let polled = self.shared.with(WRITER, cx, |inner, cx| {
            loop {
                match ready!(inner.driver.poll_pump(cx, timer)) {
                    Err(e) => return Poll::Ready(Err(e)),
                    Ok(false) => return Poll::Ready(Ok(())),
                    // The close handshake is done; the reader still delivers the peer's
                    // close (and the stream ends with the pump's teardown).
                    Ok(true)
                        if inner.reader_alive && inner.driver.conn.state() == State::Closed =>
                    {
                        return Poll::Ready(Ok(()));
                    }
                    // The reader delivers it, and wakes us when it did.
                    Ok(true) if inner.reader_alive => return Poll::Pending,
                    Ok(true) => {
                        let _ = inner.driver.conn.next_event();
                    }
                }
            }
        });
        if polled.is_pending() {
            self.shared.wakers.wake_slot(READER);
        }
        polled
    }

    fn poll_unsent(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.with(WRITER, cx, |inner, cx| {
            if let Some(message) = &inner.unsent {
                ready!(inner.driver.poll_room(cx, data_len(message)))?;
                if let Some(message) = inner.unsent.take() {
                    queue_message(&mut inner.driver.conn, &message)?;
                }
            }
            Poll::Ready(Ok(()))
        })
    }
}

/// As the [`Sink`](futures_sink::Sink) of [`WebSocket`]; `poll_close` closes as
/// [`Writer::close`] does.
impl<S: AsyncRead + AsyncWrite + Unpin> futures_sink::Sink<Message> for Writer<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_unsent(cx))?;
        this.shared.with(WRITER, cx, |inner, cx| {
            let cap = inner.driver.conn.config().write_buffer_cap;
            if inner.driver.conn.pending_output().len() >= cap {
                ready!(inner.driver.poll_send_out(cx))?;
            }
            Poll::Ready(Ok(()))
        })
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        let mut inner = lock(&self.shared.inner);
        if inner.unsent.is_none() && !inner.driver.has_room(data_len(&message)) {
            inner.unsent = Some(message);
            return Ok(());
        }
        Ok(queue_message(&mut inner.driver.conn, &message)?)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_unsent(cx))?;
        this.shared.with(WRITER, cx, |inner, cx| {
            inner.driver.poll_send_out(cx).map_err(Error::from)
        })
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_unsent(cx))?;
        {
            let mut inner = lock(&this.shared.inner);
            if inner.driver.conn.state() == State::Open {
                inner.driver.conn.close(CloseCode::NORMAL, "")?;
            }
        }
        this.poll_closed(cx)
    }
}
