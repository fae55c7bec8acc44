package dev.nvmelm.bench;

import dev.nvmelm.util.Json;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** A minimal QMP client over a Unix socket: greeting, qmp_capabilities, commands, events. */
public final class Qmp implements AutoCloseable {
    private final SocketChannel ch;
    private final StringBuilder buf = new StringBuilder();
    private final ByteBuffer in = ByteBuffer.allocate(1 << 16);
    private final ArrayDeque<Map<String, Object>> events = new ArrayDeque<>();

    /** A QMP event with the monotonic time it was read. */
    public record Event(long nanos, Map<String, Object> body) {
        public String name() {
            return (String) body.get("event");
        }
    }

    private final ArrayDeque<Event> timedEvents = new ArrayDeque<>();

    public Qmp(Path socket) throws IOException {
        ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
        readMessage();  // greeting
        command("qmp_capabilities", Map.of());
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> readMessage() throws IOException {
        while (true) {
            int nl = buf.indexOf("\n");
            if (nl >= 0) {
                String line = buf.substring(0, nl);
                buf.delete(0, nl + 1);
                if (!line.isBlank()) return (Map<String, Object>) Json.parse(line);
                continue;
            }
            in.clear();
            if (ch.read(in) < 0) throw new IOException("QMP connection closed");
            buf.append(StandardCharsets.UTF_8.decode(in.flip()));
        }
    }

    /** Runs a command and returns its "return" value; events read meanwhile are queued. */
    @SuppressWarnings("unchecked")
    public Object command(String name, Map<String, Object> args) throws IOException {
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("execute", name);
        req.put("arguments", args);
        ByteBuffer b = StandardCharsets.UTF_8.encode(Json.pretty(req).replace("\n", " ") + "\n");
        while (b.hasRemaining()) ch.write(b);
        while (true) {
            Map<String, Object> r = readMessage();
            if (r.containsKey("event")) {
                timedEvents.add(new Event(System.nanoTime(), r));
                continue;
            }
            if (r.containsKey("error")) throw new IOException(name + ": " + ((Map<String, Object>) r.get("error")).get("desc"));
            return r.get("return");
        }
    }

    /** The first queued or arriving event among {@code names}; polls with {@code query} while waiting. */
    public Event await(Set<String> names, long timeoutNanos, Runnable whileWaiting) throws IOException {
        long deadline = System.nanoTime() + timeoutNanos;
        while (true) {
            for (var it = timedEvents.iterator(); it.hasNext(); ) {
                Event e = it.next();
                if (names.contains(e.name())) {
                    it.remove();
                    return e;
                }
            }
            if (System.nanoTime() > deadline) return null;
            whileWaiting.run();
            command("query-version", Map.of());  // a round trip drains events the server has sent
        }
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
