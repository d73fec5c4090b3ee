//! A gRPC proxy in front of a test's server that counts the requests passing through it and can
//! lose their answers after the server did the work.

/// A gRPC proxy in front of a Temporal server that records the method of every request that
/// passes through it, so that a test can count the round trips a command makes. It can also
/// lose answers: forward a request, let the server do the work, and reset the stream instead
/// of passing the answer on.
pub struct CountingProxy {
    pub address: String,
    calls: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// How many answers to each method are still to be lost.
    lose: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    pub async fn start(upstream: &str) -> Self {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        type BoxError = Box<dyn std::error::Error + Send + Sync>;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lose = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http::<hyper::body::Incoming>();
        let (recorded, losing, upstream) = (calls.clone(), lose.clone(), upstream.to_owned());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (client, recorded, losing, upstream) = (
                    client.clone(),
                    recorded.clone(),
                    losing.clone(),
                    upstream.clone(),
                );
                let service = hyper::service::service_fn(
                    move |mut request: hyper::Request<hyper::body::Incoming>| {
                        let path = request.uri().path().to_owned();
                        let method = path.rsplit('/').next().unwrap_or_default().to_owned();
                        recorded.lock().unwrap().push(method.clone());
                        let lost = match losing.lock().unwrap().get_mut(&method) {
                            Some(n) if *n > 0 => {
                                *n -= 1;
                                true
                            }
                            _ => false,
                        };
                        *request.uri_mut() = format!("http://{upstream}{path}").parse().unwrap();
                        let answer = client.request(request);
                        async move {
                            let answer = answer.await?;
                            if lost {
                                // The server has answered, so the work is done; the client
                                // sees its stream reset instead.
                                return Err::<_, BoxError>(format!("{method}: answer lost").into());
                            }
                            Ok(answer)
                        }
                    },
                );
                tokio::spawn(
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Self {
            address,
            calls,
            lose,
            task,
        }
    }

    /// Loses the answers to the next `times` calls of `method`.
    pub fn lose_answers(&self, method: &str, times: usize) {
        self.lose.lock().unwrap().insert(method.to_owned(), times);
    }

    /// The gRPC methods called since the last `take`, in order (e.g. `UpdateWorkflowExecution`).
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
