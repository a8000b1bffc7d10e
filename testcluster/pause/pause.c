/* The sandbox process of the test cluster's pods, in the role of Kubernetes' pause
 * container: it holds the pod's namespaces and does nothing else. As PID 1 of a pod with
 * shareProcessNamespace it reaps the orphans re-parented to it. SIGINT and SIGTERM end it
 * with exit 0 after one line on stderr, `Shutting down, got signal: Terminated` (the
 * signal's strsignal text), the line upstream's pause prints (kubernetes
 * build/pause/linux/pause.c, sigdown, which uses psignal for it). Built static by
 * scripts/testcluster.sh into kind-chaos-pause:test as /pause, so a shared-PID pod sees
 * `/pause` as its PID 1, as on kind. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *s) {
    size_t left = strlen(s);
    while (left > 0) {
        ssize_t n = write(STDERR_FILENO, s, left);
        if (n <= 0) {
            return;
        }
        s += n;
        left -= (size_t)n;
    }
}

static void quit(int sig) {
    const char *name = strsignal(sig);
    say("Shutting down, got signal: ");
    say(name ? name : "Unknown signal");
    say("\n");
    _exit(0);
}

static void reap(int sig) {
    (void)sig;
    while (waitpid(-1, 0, WNOHANG) > 0) {
    }
}

int main(void) {
    struct sigaction q = {0}, r = {0};
    q.sa_handler = quit;
    sigaction(SIGINT, &q, 0);
    sigaction(SIGTERM, &q, 0);
    r.sa_handler = reap;
    r.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &r, 0);
    for (;;) {
        pause();
    }
}
