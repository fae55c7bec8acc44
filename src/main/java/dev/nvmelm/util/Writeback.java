package dev.nvmelm.util;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Starts the writeback of what was just written, so the disk works while the copy goes on and
 * the final fsync finds little left (nbdcopy does the same; cp leaves it all to the fsync).
 * sync_file_range(SYNC_FILE_RANGE_WRITE) only queues the dirty pages: it neither waits for them
 * nor makes anything durable, and its errors are only hints, since fsync reports any real one.
 * It works on the file's page cache, so a descriptor of our own serves (the JDK does not expose
 * a FileChannel's).
 */
public final class Writeback implements AutoCloseable {
    private static final int O_WRONLY = 1, O_CLOEXEC = 0x80000, SYNC_FILE_RANGE_WRITE = 2;
    private static final MethodHandle OPEN, CLOSE, SYNC_FILE_RANGE;

    static {
        Linker linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        OPEN = linker.downcallHandle(libc.find("open").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        CLOSE = linker.downcallHandle(libc.find("close").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        SYNC_FILE_RANGE = linker.downcallHandle(libc.find("sync_file_range").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
    }

    private final int fd;
    private volatile boolean closed;

    private Writeback(int fd) {
        this.fd = fd;
    }

    /** A writeback starter for {@code file}, or null where the file cannot be opened for writing this way. */
    public static Writeback open(Path file) {
        try (Arena a = Arena.ofConfined()) {
            int fd = (int) OPEN.invokeExact(a.allocateFrom(file.toString()), O_WRONLY | O_CLOEXEC);
            return fd < 0 ? null : new Writeback(fd);
        } catch (Throwable t) {
            return null;
        }
    }

    /** Queues the writeback of [offset, offset + length); returns whether the kernel took it. */
    public boolean start(long offset, long length) {
        if (closed) return false;
        try {
            return (int) SYNC_FILE_RANGE.invokeExact(fd, offset, length, SYNC_FILE_RANGE_WRITE) == 0;
        } catch (Throwable t) {
            return false;
        }
    }

    @Override
    public synchronized void close() throws IOException {
        if (closed) return;
        closed = true;
        try {
            int ignored = (int) CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw new IOException("close: " + t, t);
        }
    }
}
