//! Watch every process's argv while a test runs: the proof that a secret
//! never reaches a command line, here or on a testbed server.
#![allow(dead_code)]

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every process's argv on this machine (the servers' pid namespaces are
/// children of ours, so their processes are listed too), scanned until
/// stopped; [`ArgvWatch::finish`] returns the argv lines that contained `needle`
/// and how many full scans ran (a test can check that it watched at all).
/// Reading /proc in-process every 5 ms sees short-lived processes that a
/// shell loop spawned per scan would miss.
pub struct ArgvWatch {
    stop: Arc<AtomicBool>,
    hits: Arc<Mutex<Vec<String>>>,
    scans: Arc<Mutex<u64>>,
    h: Option<std::thread::JoinHandle<()>>,
}

impl ArgvWatch {
    pub fn start(needle: &str) -> ArgvWatch {
        let (stop, hits, scans) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(Mutex::new(vec![])),
            Arc::new(Mutex::new(0)),
        );
        let needle = needle.as_bytes().to_vec();
        let h = {
            let (stop, hits, scans) = (stop.clone(), hits.clone(), scans.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for e in std::fs::read_dir("/proc").unwrap().flatten() {
                        let mut buf = vec![];
                        if std::fs::File::open(e.path().join("cmdline"))
                            .and_then(|mut f| f.read_to_end(&mut buf))
                            .is_ok()
                            && buf.windows(needle.len()).any(|w| w == needle)
                        {
                            hits.lock()
                                .unwrap()
                                .push(String::from_utf8_lossy(&buf).replace('\0', " "));
                        }
                    }
                    *scans.lock().unwrap() += 1;
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        ArgvWatch {
            stop,
            hits,
            scans,
            h: Some(h),
        }
    }

    pub fn finish(mut self) -> (Vec<String>, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.h.take().unwrap().join().unwrap();
        let hits = self.hits.lock().unwrap().clone();
        let scans = *self.scans.lock().unwrap();
        (hits, scans)
    }
}
