/* The sandbox process of the test cluster's pods, in the role of Kubernetes' pause
 * container: it holds the pod's namespaces and does nothing else. As PID 1 of a pod with
 * shareProcessNamespace it reaps the orphans re-parented to it; SIGINT and SIGTERM end it
 * (exit 0). Built static by scripts/testcluster.sh into kind-chaos-pause:test as /pause, so
 * a shared-PID pod sees `/pause` as its PID 1, as on kind. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) {
    (void)sig;
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
