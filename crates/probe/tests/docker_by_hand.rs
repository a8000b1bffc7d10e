//! The labs' experiments that are made by hand with Docker rather than with a cluster, run for
//! real against the local Docker daemon: a pod built by hand around a pause container (the
//! pause-container note: `docker run --net/--ipc/--pid=container:pause`, pause as PID 1
//! seeing the others, reaping orphans, ending on SIGTERM and taking the pod's processes with
//! it), and the Pod behaviour lab's STOPSIGNAL bonus (`docker stop -t 3600` pending, cut short
//! by a `kill` of the process from the host).
//!
//! Why here: a playbook's `exec` runs inside a node container, and these experiments need
//! the host's Docker and the host's view of PIDs. The pause image is the test cluster's
//! (`kind-chaos-pause:test`, built by `scripts/testcluster.sh image`), the others the lab
//! images (`scripts/build-images.sh`). Docker and the images are required: without them every
//! test fails, naming the cause. Containers are named `lb-hand-*` and removed when dropped.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const PAUSE_IMAGE: &str = "kind-chaos-pause:test";
const TIMEOUT: Duration = Duration::from_secs(15);

fn lab_image(name: &str) -> String {
    format!("kind-chaos/{name}:{}", env!("CARGO_PKG_VERSION"))
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `docker {}`: {e}", args.join(" ")))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "`docker {}` failed ({}): {}",
        args.join(" "),
        out.status,
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Fails, naming how to build it, when an image is missing.
fn need_image(image: &str, built_by: &str) {
    let out = docker(&["image", "inspect", "-f", "{{.Id}}", image]);
    assert!(
        out.status.success(),
        "image {image} is missing (build it with {built_by}); these tests need Docker: {}",
        text(&out.stderr)
    );
}

/// A container with a unique `lb-hand-` name, removed (forcibly) when dropped.
struct Container {
    name: String,
}

impl Container {
    /// `docker run -d --name NAME [options] IMAGE [args]`.
    fn run(label: &str, options: &[&str], image: &str, args: &[&str]) -> Container {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let c = Container {
            name: format!("lb-hand-{}-{n}-{label}", std::process::id()),
        };
        let mut run = vec!["run", "-d", "--name", &c.name];
        run.extend_from_slice(options);
        run.push(image);
        run.extend_from_slice(args);
        docker_ok(&run);
        c
    }

    /// A container joining this one's network, IPC and PID namespaces, as a pod's
    /// containers join its sandbox.
    fn join(&self, label: &str, image: &str, entrypoint: &[&str]) -> Container {
        let net = format!("--net=container:{}", self.name);
        let ipc = format!("--ipc=container:{}", self.name);
        let pid = format!("--pid=container:{}", self.name);
        let mut options = vec![net.as_str(), ipc.as_str(), pid.as_str()];
        let (args, entry): (&[&str], Option<String>) = match entrypoint.split_first() {
            Some((first, rest)) => (rest, Some(format!("--entrypoint={first}"))),
            None => (&[], None),
        };
        if let Some(e) = &entry {
            options.push(e);
        }
        Container::run(label, &options, image, args)
    }

    fn exec(&self, command: &[&str]) -> String {
        let mut args = vec!["exec", self.name.as_str()];
        args.extend_from_slice(command);
        docker_ok(&args)
    }

    fn logs(&self) -> Vec<String> {
        let out = docker(&["logs", &self.name]);
        let mut all = text(&out.stdout);
        all.push_str(&text(&out.stderr));
        all.lines().map(str::to_owned).collect()
    }

    fn wait_for_line(&self, want: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let lines = self.logs();
            if lines.iter().any(|l| want(l)) {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "{}: expected line not in the logs after {TIMEOUT:?}: {lines:?}",
                self.name
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn inspect(&self, format: &str) -> String {
        docker_ok(&["inspect", "-f", format, &self.name])
            .trim()
            .to_owned()
    }

    fn running(&self) -> bool {
        self.inspect("{{.State.Running}}") == "true"
    }

    fn wait_stopped(&self) -> i32 {
        let code = docker_ok(&["wait", &self.name]);
        code.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{}: exit code {code:?}", self.name))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.name])
            .output();
    }
}

/// The seed's pod: pause first, then the app and a shell joining its namespaces.
struct HandPod {
    pause: Container,
    probe: Container,
    shell: Container,
}

fn hand_pod() -> HandPod {
    need_image(PAUSE_IMAGE, "scripts/testcluster.sh image");
    need_image(&lab_image("entrypoint-exec"), "scripts/build-images.sh");
    // `--ipc=shareable`: Docker's default IPC mode became `private` (the seed's Docker shared
    // by default), and a private IPC namespace cannot be joined.
    let pause = Container::run("pause", &["--ipc=shareable"], PAUSE_IMAGE, &[]);
    let probe = pause.join("probe", &lab_image("entrypoint-exec"), &[]);
    probe.wait_for_line(|l| l.starts_with("PID "));
    // The pause image's busybox, as a container of the pod with a shell (the seed's `ps -ef`
    // inside the nginx container).
    let shell = pause.join("shell", PAUSE_IMAGE, &["/bin/sleep", "3600"]);
    HandPod {
        pause,
        probe,
        shell,
    }
}

#[test]
fn a_pod_built_by_hand_has_pause_as_pid_1_seeing_the_others() {
    let pod = hand_pod();
    // The probe prints its PID: not 1, pause came first.
    let logs = pod.probe.logs();
    let pid_line = logs.iter().find(|l| l.starts_with("PID ")).cloned();
    assert!(
        pid_line.as_deref().is_some_and(|l| l != "PID 1"),
        "the probe is not PID 1 of the pod: {logs:?}"
    );
    assert_eq!(
        pod.shell.exec(&["cat", "/proc/1/cmdline"]),
        "/pause\0",
        "PID 1 of the pod's PID namespace"
    );
    // Every container's process in one list, as the seed's `ps -ef` shows nginx and ghost.
    let ps = pod.shell.exec(&["ps"]);
    for process in ["/pause", "/probe", "sleep 3600"] {
        assert!(ps.contains(process), "no {process} in:\n{ps}");
    }
    // Network and UTS: the same interface and hostname as pause.
    let mac = |c: &Container| c.exec(&["cat", "/sys/class/net/eth0/address"]);
    assert_eq!(mac(&pod.shell), mac(&pod.pause));
    assert_eq!(
        pod.shell.exec(&["hostname"]).trim(),
        pod.pause.inspect("{{.Config.Hostname}}")
    );
    // IPC: what one container writes to /dev/shm, another of the pod reads.
    pod.shell
        .exec(&["sh", "-c", "echo token > /dev/shm/lb-hand"]);
    assert_eq!(pod.pause.exec(&["cat", "/dev/shm/lb-hand"]), "token\n");
}

/// Starts `sleep 2` in `shell`'s PID namespace from a shell that exits at once, so the sleep
/// is orphaned to the namespace's PID 1; returns its PID there and, read once the shell is
/// gone, its parent's PID.
fn orphan(shell: &Container) -> (String, String) {
    // Its output goes elsewhere, or `docker exec` would wait for the sleep to close it.
    let pid = shell
        .exec(&["sh", "-c", "sleep 2 </dev/null >/dev/null 2>&1 & echo $!"])
        .trim()
        .to_owned();
    let ppid = shell.exec(&[
        "sh",
        "-c",
        &format!("grep PPid /proc/{pid}/status | tr -cd 0-9"),
    ]);
    (pid, ppid)
}

/// The process state of `pid` as `shell` sees it (`Z` for a zombie), or `None` once gone.
fn state(shell: &Container, pid: &str) -> Option<String> {
    let out = shell.exec(&[
        "sh",
        "-c",
        &format!("grep State /proc/{pid}/status 2>/dev/null || true"),
    ]);
    out.split_whitespace().nth(1).map(str::to_owned)
}

#[test]
fn pause_reaps_an_orphan_where_a_plain_pid_1_leaves_a_zombie() {
    let pod = hand_pod();
    let (pid, ppid) = orphan(&pod.shell);
    assert_eq!(ppid, "1", "orphaned to pause");
    thread::sleep(Duration::from_secs(4));
    assert_eq!(
        state(&pod.shell, &pid),
        None,
        "the orphaned sleep {pid} was reaped by pause"
    );

    // The same with `sleep` as PID 1, which never waits for children: the orphan stays a
    // zombie. This is what pause's SIGCHLD handler (waitpid(-1, ..., WNOHANG)) prevents.
    let sleeper = Container::run(
        "sleeper",
        &["--ipc=shareable", "--entrypoint=/bin/sleep"],
        PAUSE_IMAGE,
        &["3600"],
    );
    let shell = sleeper.join("shell", PAUSE_IMAGE, &["/bin/sleep", "3600"]);
    let (pid, ppid) = orphan(&shell);
    assert_eq!(ppid, "1", "orphaned to sleep, PID 1");
    thread::sleep(Duration::from_secs(4));
    assert_eq!(state(&shell, &pid).as_deref(), Some("Z"), "a zombie");
}

#[test]
fn pause_ends_on_sigterm_and_takes_the_pods_processes_with_it() {
    let pod = hand_pod();
    let t0 = Instant::now();
    docker_ok(&["stop", "-t", "10", &pod.pause.name]);
    let took = t0.elapsed();
    // SIGTERM is handled: no wait for the 10 s grace period, exit 0, and the line upstream's
    // pause prints on stderr (psignal's "<prefix>: <strsignal>").
    assert!(took < Duration::from_secs(5), "docker stop took {took:?}");
    assert_eq!(pod.pause.wait_stopped(), 0);
    let pause_logs = pod.pause.logs();
    assert_eq!(
        pause_logs
            .iter()
            .filter(|l| l.starts_with("Shutting down"))
            .collect::<Vec<_>>(),
        ["Shutting down, got signal: Terminated"],
        "pause's log: {pause_logs:?}"
    );
    // When a PID namespace's PID 1 exits, the kernel kills every other process in it.
    for c in [&pod.probe, &pod.shell] {
        assert_eq!(c.wait_stopped(), 137, "{} was SIGKILLed", c.name);
    }
    assert!(
        !pod.probe.logs().iter().any(|l| l.starts_with("Received")),
        "SIGKILL, not a signal the probe could see: {:?}",
        pod.probe.logs()
    );
}

#[test]
fn a_pending_hour_long_docker_stop_is_cut_short_by_a_kill_from_the_host() {
    need_image(&lab_image("stopsignal"), "scripts/build-images.sh");
    let c = Container::run("stopsignal", &[], &lab_image("stopsignal"), &[]);
    c.wait_for_line(|l| l.starts_with("PID "));
    let mut stop = Command::new("docker")
        .args(["stop", "-t", "3600", &c.name])
        .spawn()
        .expect("spawn docker stop");
    // STOPSIGNAL SIGINT: the probe reports it and runs on; `docker stop` waits for the hour.
    c.wait_for_line(|l| l == "Received 2");
    thread::sleep(Duration::from_secs(2));
    assert!(
        stop.try_wait().expect("docker stop").is_none(),
        "docker stop -t 3600 returned although the probe ignores SIGINT"
    );
    assert!(c.running());
    // The seed: `docker inspect -f '{{.State.Pid}}'`, then `sudo kill <pid>` on the host. A
    // signal sent to the process itself is the one sent, not the image's STOPSIGNAL.
    let pid = c.inspect("{{.State.Pid}}");
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .output()
        .expect("run kill");
    assert!(
        kill.status.success(),
        "kill -TERM {pid} from the host: {}",
        text(&kill.stderr)
    );
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = stop.try_wait().expect("docker stop") {
            break s;
        }
        assert!(t0.elapsed() < TIMEOUT, "docker stop still pending");
        thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "docker stop: {status}");
    assert_eq!(c.wait_stopped(), 0, "a clean exit on SIGTERM, not 137");
    let logs = c.logs();
    for line in ["Received 15", "Exiting with code 0"] {
        assert!(logs.iter().any(|l| l == line), "no {line}: {logs:?}");
    }
}
