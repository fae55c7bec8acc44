package dev.nvmelm.nbd;

import java.nio.file.Path;
import java.util.List;

/** A peer NBD server (qemu-nbd, nbdkit) run in the foreground for a test, stopped on close. */
final class PeerProcess implements AutoCloseable {
    private final Process process;

    private PeerProcess(Process p) {
        this.process = p;
    }

    /** Starts the command and waits until it listens on {@code socket} ({@link dev.nvmelm.Procs#start}). */
    static PeerProcess start(List<String> cmd, Path socket) throws Exception {
        return new PeerProcess(dev.nvmelm.Procs.start(cmd, socket));
    }

    @Override
    public void close() throws Exception {
        dev.nvmelm.Procs.stop(process);
    }
}
