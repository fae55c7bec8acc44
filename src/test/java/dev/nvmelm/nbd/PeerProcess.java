package dev.nvmelm.nbd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A peer NBD server (qemu-nbd, nbdkit) run in the foreground for a test, stopped on close. */
final class PeerProcess implements AutoCloseable {
    private final Process process;

    private PeerProcess(Process p) {
        this.process = p;
    }

    /** Starts the command and waits until it has created {@code socket}. */
    static PeerProcess start(List<String> cmd, Path socket) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        for (int i = 0; i < 500 && !Files.exists(socket); i++) {
            if (!p.isAlive()) throw new IOException(cmd.getFirst() + " exited with " + p.exitValue());
            Thread.sleep(10);
        }
        if (!Files.exists(socket)) {
            p.destroyForcibly();
            throw new IOException(cmd.getFirst() + " did not create " + socket);
        }
        return new PeerProcess(p);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly().waitFor();
    }
}
