//! Waiting for the device without blocking the caller: on native backends
//! wgpu makes progress only when someone polls the device, so an `async`
//! call that awaits a mapping hands the wait to a thread of the `Gpu`'s
//! own, which polls until the work is done and so runs the callback that
//! wakes the call. On the web the browser drives the device itself.

use std::sync::mpsc::Sender;
use std::sync::Mutex;

use crate::lock::lock;

/// The polling thread of one device, started on first use; it ends when
/// the `Gpu` is dropped, which waits for it: a thread still inside the
/// driver while the process exits can crash it.
pub(crate) struct Poller {
    device: wgpu::Device,
    requests: Mutex<Option<Sender<Option<wgpu::SubmissionIndex>>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Poller {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop once its last wait is
        // done.
        lock(&self.requests).take();
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}

impl Poller {
    pub(crate) fn new(device: wgpu::Device) -> Self {
        Self {
            device,
            requests: Mutex::default(),
            thread: Mutex::default(),
        }
    }

    /// Has the device polled until `submission` (every submission where
    /// `None`) is done, off the caller's thread; returns at once.
    pub(crate) fn drive(&self, submission: Option<wgpu::SubmissionIndex>) {
        if cfg!(target_arch = "wasm32") {
            return;
        }
        let mut requests = lock(&self.requests);
        if requests.is_none() {
            let (sender, receiver) = std::sync::mpsc::channel::<Option<wgpu::SubmissionIndex>>();
            let device = self.device.clone();
            let spawned = std::thread::Builder::new()
                .name("wgpu_relu.poll".into())
                .spawn(move || {
                    for submission in receiver {
                        // An error (a lost device) shows in the mapping's
                        // own result, which the waiting call reads.
                        let _ = device.poll(wgpu::PollType::Wait {
                            submission_index: submission,
                            timeout: None,
                        });
                    }
                });
            if let Ok(thread) = spawned {
                *requests = Some(sender);
                *lock(&self.thread) = Some(thread);
            }
        }
        match requests.as_ref() {
            Some(sender) if sender.send(submission.clone()).is_ok() => {}
            // No thread could be started: wait here instead.
            _ => {
                let _ = self.device.poll(wgpu::PollType::Wait {
                    submission_index: submission,
                    timeout: None,
                });
            }
        }
    }
}
