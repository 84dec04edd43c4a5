//! Runnable examples of the Fulmar WebRTC stack; see the `[[example]]` entries
//! in this package's `Cargo.toml` and the repository README.
//!
//! The library part holds what several examples share: [`http`], the
//! minimal HTTP/1.1 server their signaling endpoints run on.

pub mod http {
    //! A minimal HTTP/1.1 server for the examples' signaling: one request
    //! per connection, a body of at most 1 MiB, `Connection: close`.

    use std::future::Future;

    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{TcpListener, TcpStream};

    /// The largest request body read; longer ones are cut to this size.
    pub const MAX_BODY: usize = 1 << 20;

    /// Any error while handling one request.
    pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

    /// A parsed request.
    #[derive(Debug, Clone)]
    pub struct Request {
        /// `GET`, `POST`, ...
        pub method: String,
        /// The request target, e.g. `/offer`.
        pub path: String,
        /// The body as UTF-8 text.
        pub body: String,
    }

    /// The response to one request.
    #[derive(Debug, Clone)]
    pub struct Response {
        /// Status line text, e.g. `200 OK`.
        pub status: &'static str,
        /// `Content-Type` value.
        pub content_type: &'static str,
        /// The body.
        pub body: String,
    }

    impl Response {
        /// `200 OK` with the given type and body.
        pub fn ok(content_type: &'static str, body: String) -> Self {
            Response {
                status: "200 OK",
                content_type,
                body,
            }
        }

        /// `400 Bad Request` with a plain-text reason.
        pub fn bad_request(reason: String) -> Self {
            Response {
                status: "400 Bad Request",
                content_type: "text/plain",
                body: reason,
            }
        }
    }

    /// Accepts connections forever, answering each request with `handler`.
    pub async fn serve<H, F>(listener: TcpListener, handler: H) -> std::io::Result<()>
    where
        H: Fn(Request) -> F + Clone + Send + 'static,
        F: Future<Output = Response> + Send + 'static,
    {
        loop {
            let (stream, _) = listener.accept().await?;
            let handler = handler.clone();
            tokio::spawn(async move {
                if let Err(e) = answer_one(stream, handler).await {
                    eprintln!("request failed: {e}");
                }
            });
        }
    }

    async fn answer_one<H, F>(stream: TcpStream, handler: H) -> Result<(), BoxError>
    where
        H: Fn(Request) -> F,
        F: Future<Output = Response>,
    {
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        reader.read_line(&mut request_line).await?;
        let (mut line, mut length) = (String::new(), 0usize);
        while reader.read_line(&mut line).await? > 2 {
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>()?.min(MAX_BODY);
                }
            }
            line.clear();
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        let mut parts = request_line.split(' ');
        let request = Request {
            method: parts.next().unwrap_or("").to_owned(),
            path: parts.next().unwrap_or("").to_owned(),
            body: String::from_utf8(body)?,
        };
        let response = handler(request).await;
        let head = format!(
            "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n",
            response.status,
            response.content_type,
            response.body.len()
        );
        let stream = reader.get_mut();
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(response.body.as_bytes()).await?;
        Ok(())
    }
}
