package dev.nvmelm.embedded;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.fuzz.BytesProvider;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The server side of the {@code sim:} protocol (DeviceServer and its sessions) fed a hostile
 * client's bytes through the real {@code ctl.sock}. The first input byte picks whether an honest
 * Hello (for the MMC or controller 1 or 2) comes first, so the fuzzer reaches the commands. The
 * server must answer and close the session when the client's bytes end (within
 * {@link #BOUND_MS}), and never drop a client "after an internal error" (a runtime exception in
 * the session): every bad frame is a protocol error, every bad command an NVMe status.
 */
public final class DeviceServerTarget implements AutoCloseable {
    static final long BOUND_MS = 20_000;
    private final DeviceServer server;
    private final Queue<String> failures = new ConcurrentLinkedQueue<>();

    public DeviceServerTarget(Path dir) throws Exception {
        PrintStream log = new PrintStream(new LineSink(failures), true, StandardCharsets.UTF_8);
        this.server = DeviceServer.start(new Subsystem.Config(dir, 4 << 20, 1, 2, 4096), 8 << 20, log);
    }

    public void runOnce(byte[] input) throws Exception {
        dev.nvmelm.fuzz.Fuzz.unlessStopped(() -> runInterruptibly(input));
    }

    private void runInterruptibly(byte[] input) throws Exception {
        BytesProvider d = new BytesProvider(input);
        int mode = d.consumeByte() % 4;
        byte[] client = d.consumeRemainingAsBytes();
        ByteBuffer out = ByteBuffer.allocate(13 + client.length).order(ByteOrder.LITTLE_ENDIAN);
        if (mode > 0) out.putInt(9).put((byte) 1).putInt(0).putShort((short) 1).putShort((short) (mode - 1));
        out.put(client).flip();
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(server.socketPath()));
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    while (out.hasRemaining()) ch.write(out);
                    ch.shutdownOutput();
                } catch (IOException e) {
                    // the server closed first
                }
            }, r -> Thread.ofVirtual().start(r));
            CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
                ByteBuffer b = ByteBuffer.allocate(16 << 10);
                try {
                    while (ch.read(b.clear()) >= 0) {
                        // replies; the end of the session is what counts
                    }
                } catch (IOException e) {
                    // reset: also an end
                }
            }, r -> Thread.ofVirtual().start(r));
            try {
                reader.get(BOUND_MS, TimeUnit.MILLISECONDS);
                writer.get(BOUND_MS, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("the device server did not close a session whose client stopped sending (mode " + mode + ")");
            }
        }
        String f = failures.poll();
        if (f != null) {
            failures.clear();
            throw new AssertionError(f);
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }

    /** The server's log, line by line; an internal error is a failure of the target. */
    private static final class LineSink extends OutputStream {
        private final Queue<String> failures;
        private final StringBuilder line = new StringBuilder();

        LineSink(Queue<String> failures) {
            this.failures = failures;
        }

        @Override
        public synchronized void write(int b) {
            if (b != '\n') {
                line.append((char) b);
                return;
            }
            if (line.indexOf("internal error") >= 0) failures.add(line.toString());
            line.setLength(0);
        }
    }
}
