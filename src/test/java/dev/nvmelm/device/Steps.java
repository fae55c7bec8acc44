package dev.nvmelm.device;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Deterministic executors for {@link Subsystem.Options}: every controller's tasks go into one
 * FIFO that the test drains on its own thread, so a scenario runs the same way every time and
 * a test decides exactly when each controller gets to run. Each controller still sees its own
 * tasks one at a time and in order, which is all the controller relies on.
 */
final class Steps {
    private record Task(Exec owner, Runnable body) {}

    private final ArrayDeque<Task> queue = new ArrayDeque<>();
    /** Anything a task threw past the controller's own handler: must stay empty. */
    final List<Throwable> escaped = new ArrayList<>();
    private final List<Exec> executors = new ArrayList<>();
    private int running = -1;   // the CNTLID whose task is executing, or -1

    /** The executor factory to pass to {@link Subsystem.Options}. */
    ExecutorService executorFor(int cntlid) {
        Exec e = new Exec(cntlid);
        executors.add(e);
        return e;
    }

    /** Runs queued tasks in FIFO order until none is left; returns how many ran. */
    int runAll() {
        int n = 0;
        for (Task t; (t = poll(-1)) != null; n++) {
            if (n > 5_000_000) throw new AssertionError("controller tasks never settle (livelock?)");
            run(t);
        }
        return n;
    }

    /**
     * Runs only the tasks of controller {@code cntlid} (FIFO), leaving the others queued. Callable
     * from inside another controller's task, which is how a test interleaves controllers exactly
     * where it wants, as two threads could.
     */
    int runOnly(int cntlid) {
        if (running == cntlid) throw new IllegalStateException("controller " + cntlid + " is already running a task");
        int n = 0;
        for (Task t; (t = poll(cntlid)) != null; n++) run(t);
        return n;
    }

    /** Tasks waiting. */
    synchronized int pending() {
        return queue.size();
    }

    private void run(Task t) {
        if (t.owner.shut) return;
        int outer = running;
        running = t.owner.cntlid;
        try {
            t.body.run();
        } catch (Throwable e) {
            escaped.add(e);
        } finally {
            running = outer;
        }
    }

    private synchronized Task poll(int cntlid) {
        if (cntlid < 0) return queue.poll();
        for (Iterator<Task> it = queue.iterator(); it.hasNext(); ) {
            Task t = it.next();
            if (t.owner.cntlid == cntlid) {
                it.remove();
                return t;
            }
        }
        return null;
    }

    private synchronized void add(Task t) {
        queue.add(t);
    }

    private final class Exec extends AbstractExecutorService {
        final int cntlid;
        volatile boolean shut;

        Exec(int cntlid) {
            this.cntlid = cntlid;
        }

        @Override
        public void execute(Runnable command) {
            if (shut) throw new RejectedExecutionException("controller " + cntlid + " executor is shut down");
            add(new Task(this, command));
        }

        @Override
        public void shutdown() {
            shut = true;
        }

        @Override
        public List<Runnable> shutdownNow() {
            shut = true;
            return List.of();
        }

        @Override
        public boolean isShutdown() {
            return shut;
        }

        @Override
        public boolean isTerminated() {
            return shut;
        }

        @Override
        public boolean awaitTermination(long timeout, TimeUnit unit) {
            return true;
        }
    }
}
