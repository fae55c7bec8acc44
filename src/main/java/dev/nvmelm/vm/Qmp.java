package dev.nvmelm.vm;

import dev.nvmelm.util.Json;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * A QMP client over a Unix socket: greeting, qmp_capabilities, commands, events. A reader thread
 * takes every message as it arrives, so events are timed when QEMU sent them and a wait for one
 * needs no polling; commands run one at a time.
 */
public final class Qmp implements AutoCloseable {
    /** A QMP event with the monotonic time it was read. */
    public record Event(long nanos, Map<String, Object> body) {
        public String name() {
            return (String) body.get("event");
        }

        @SuppressWarnings("unchecked")
        public Map<String, Object> data() {
            Object d = body.get("data");
            return d instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
        }
    }

    private final SocketChannel ch;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition arrived = lock.newCondition();
    private final ArrayDeque<Event> events = new ArrayDeque<>();
    private final ArrayDeque<Map<String, Object>> replies = new ArrayDeque<>();
    private final Object commandLock = new Object();
    private String submitted;   // a command sent by submit() whose reply is not collected yet (under commandLock)
    private IOException readFailure;

    /** Connects to a QMP socket that exists and accepts (see {@link #connect} for one still starting). */
    public Qmp(Path socket) throws IOException {
        ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
        Thread.ofVirtual().name("qmp-reader " + socket.getFileName()).start(this::readLoop);
        awaitReply("greeting", Duration.ofSeconds(30).toNanos());
        command("qmp_capabilities", Map.of());
    }

    /**
     * Connects to the QMP socket of a QEMU that may still be creating it: retries while the path
     * is missing or refuses, as long as {@code alive} says the process runs, up to {@code timeout}.
     */
    public static Qmp connect(Path socket, Duration timeout, java.util.function.BooleanSupplier alive) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        IOException last = null;
        while (System.nanoTime() < deadline) {
            if (!alive.getAsBoolean()) throw new IOException("QEMU exited before its QMP socket " + socket + " accepted", last);
            if (java.nio.file.Files.exists(socket)) {
                try {
                    return new Qmp(socket);
                } catch (IOException e) {
                    last = e;   // created but not yet listening
                }
            }
            // QEMU creates the socket during start-up with no event we could wait on; a short back-off
            Thread.sleep(10);
        }
        throw new IOException("QMP socket " + socket + " did not accept within " + timeout.toSeconds() + " s", last);
    }

    @SuppressWarnings("unchecked")
    private void readLoop() {
        StringBuilder buf = new StringBuilder();
        ByteBuffer in = ByteBuffer.allocate(1 << 16);
        try {
            while (true) {
                int nl = buf.indexOf("\n");
                if (nl < 0) {
                    in.clear();
                    if (ch.read(in) < 0) throw new IOException("QMP connection closed by QEMU");
                    buf.append(StandardCharsets.UTF_8.decode(in.flip()));
                    continue;
                }
                String line = buf.substring(0, nl);
                buf.delete(0, nl + 1);
                if (line.isBlank()) continue;
                Map<String, Object> msg = (Map<String, Object>) Json.parse(line);
                long now = System.nanoTime();
                lock.lock();
                try {
                    if (msg.containsKey("event")) events.add(new Event(now, msg));
                    else replies.add(msg);
                    arrived.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        } catch (IOException | RuntimeException e) {
            lock.lock();
            try {
                readFailure = e instanceof IOException io ? io : new IOException("QMP: unreadable message: " + e.getMessage(), e);
                arrived.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    private Map<String, Object> awaitReply(String what, long timeoutNanos) throws IOException {
        lock.lock();
        try {
            long left = timeoutNanos;
            while (replies.isEmpty()) {
                if (readFailure != null) throw new IOException(what + ": " + readFailure.getMessage(), readFailure);
                if (left <= 0) throw new IOException(what + ": no QMP reply within " + timeoutNanos / 1_000_000_000L + " s");
                left = arrived.awaitNanos(left);
            }
            return replies.poll();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(what + ": interrupted", e);
        } finally {
            lock.unlock();
        }
    }

    /** Runs a command and returns its "return" value; an error reply is a {@link QmpException}. */
    public Object command(String name, Map<String, Object> args) throws IOException {
        synchronized (commandLock) {
            if (submitted != null) throw new IllegalStateException(name + " while the reply to " + submitted + " is outstanding");
            write(name, args);
            return result(name, awaitReply(name, TimeUnit.SECONDS.toNanos(60)));
        }
    }

    /**
     * Sends a command without waiting for its reply (where waiting would cost a wake-up of this
     * client's reader, e.g. inside a VM's pause); {@link #awaitSubmitted} collects it, and no
     * other command may run before that.
     */
    public void submit(String name, Map<String, Object> args) throws IOException {
        synchronized (commandLock) {
            if (submitted != null) throw new IllegalStateException(name + " while the reply to " + submitted + " is outstanding");
            write(name, args);
            submitted = name;
        }
    }

    /** The reply to the command {@link #submit} sent. */
    public Object awaitSubmitted() throws IOException {
        synchronized (commandLock) {
            String name = submitted;
            if (name == null) throw new IllegalStateException("no command was submitted");
            submitted = null;
            return result(name, awaitReply(name, TimeUnit.SECONDS.toNanos(60)));
        }
    }

    private void write(String name, Map<String, Object> args) throws IOException {
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("execute", name);
        if (!args.isEmpty()) req.put("arguments", args);
        ByteBuffer b = StandardCharsets.UTF_8.encode(Json.compact(req) + "\n");
        try {
            while (b.hasRemaining()) ch.write(b);
        } catch (IOException e) {
            throw new IOException(name + ": " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    private static Object result(String name, Map<String, Object> r) throws QmpException {
        if (r.get("error") instanceof Map<?, ?> err) {
            throw new QmpException(name, String.valueOf(err.get("class")), String.valueOf(((Map<String, Object>) err).get("desc")));
        }
        return r.get("return");
    }

    /** The first queued or arriving event matching {@code which}, or null after {@code timeoutNanos}. */
    public Event awaitEvent(Predicate<Event> which, long timeoutNanos) throws IOException, InterruptedException {
        lock.lock();
        try {
            long left = timeoutNanos;
            while (true) {
                for (var it = events.iterator(); it.hasNext(); ) {
                    Event e = it.next();
                    if (which.test(e)) {
                        it.remove();
                        return e;
                    }
                }
                if (readFailure != null) throw new IOException(readFailure.getMessage(), readFailure);
                if (left <= 0) return null;
                left = arrived.awaitNanos(left);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The first queued or arriving event among {@code names}, or null after {@code timeoutNanos};
     * runs {@code whileWaiting} (which paces itself) between looks.
     */
    public Event await(Set<String> names, long timeoutNanos, Runnable whileWaiting) throws IOException {
        long deadline = System.nanoTime() + timeoutNanos;
        try {
            while (true) {
                Event e = awaitEvent(ev -> names.contains(ev.name()), 0);
                if (e != null) return e;
                long left = deadline - System.nanoTime();
                if (left <= 0) return null;
                whileWaiting.run();
                e = awaitEvent(ev -> names.contains(ev.name()), Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)));
                if (e != null) return e;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for " + names, e);
        }
    }

    /** True once QEMU closed the connection (it exited or was killed). */
    public boolean disconnected() {
        lock.lock();
        try {
            return readFailure != null;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
