package dev.nvmelm.cli;

import dev.nvmelm.util.ExclusiveFileLock;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One migration per destination image: an exclusive lock on {@code DST.incomplete}, the marker
 * that says DST is not a finished copy, held for the migration's life, with the holder's PID in
 * it. A second migration onto DST is refused naming the holder ({@link ExclusiveFileLock}:
 * other processes and other runs in this JVM alike).
 */
final class DestinationLock implements AutoCloseable {
    private final ExclusiveFileLock lock;

    private DestinationLock(ExclusiveFileLock lock) {
        this.lock = lock;
    }

    /** Takes DST for a migration from {@code source}, or refuses in one line naming the migration that has it. */
    static DestinationLock acquire(Path dest, String source) throws IOException {
        Path abs = dest.toAbsolutePath();
        Path real = Files.exists(dest) ? dest.toRealPath() : abs.getParent().toRealPath().resolve(abs.getFileName());
        Path marker = real.resolveSibling(real.getFileName() + ".incomplete");
        long pid = ProcessHandle.current().pid();
        ExclusiveFileLock held = ExclusiveFileLock.tryAcquire(marker).orElse(null);
        if (held == null) throw busy(dest, holder(marker, pid));
        try {
            FileChannel ch = held.channel();
            ch.truncate(0);
            ch.write(ByteBuffer.wrap(("pid " + pid + ": migration from " + source + " in progress or failed\n").getBytes(StandardCharsets.UTF_8)), 0);
            return new DestinationLock(held);
        } catch (IOException | RuntimeException e) {
            held.close();
            throw e;
        }
    }

    /** The first line the holder wrote into the marker; a holder in this process is not read (that would drop its lock). */
    private static String holder(Path marker, long pid) {
        if (ExclusiveFileLock.heldHere(marker)) return "pid " + pid + ", this process";
        try {
            String text = new String(Files.readAllBytes(marker), StandardCharsets.UTF_8).strip();
            return text.isEmpty() ? "another process" : text.lines().findFirst().orElse(text);
        } catch (IOException e) {
            return "another process";
        }
    }

    private static CliException busy(Path dest, String holder) {
        return new CliException(dest + " is being written by another migration (" + holder + "); wait for it to end or choose another --dest-image");
    }

    /** DST is a finished copy: the marker goes (while still locked, so no one sees DST free but marked). */
    void completed() throws IOException {
        Files.deleteIfExists(lock.file());
    }

    @Override
    public void close() throws IOException {
        lock.close();
    }
}
