package dev.nvmelm.util;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Holes in sparse files through FFM: lseek(SEEK_DATA/SEEK_HOLE) to find allocated ranges and
 * fallocate(PUNCH_HOLE|KEEP_SIZE) to deallocate, so thin images stay thin. Each call opens the
 * file by path (the JDK does not expose a FileChannel's fd). Where the filesystem or platform
 * lacks them, callers get "everything allocated" and explicit zero writes instead.
 */
public final class FileHoles {
    private FileHoles() {}

    private static final int SEEK_DATA = 3, SEEK_HOLE = 4, O_RDONLY = 0, O_WRONLY = 1, O_CLOEXEC = 0x80000;
    private static final int FALLOC_FL_KEEP_SIZE = 1, FALLOC_FL_PUNCH_HOLE = 2, ENXIO = 6;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle OPEN, CLOSE, LSEEK, FALLOCATE;

    static {
        var libc = LINKER.defaultLookup();
        var errno = Linker.Option.captureCallState("errno");
        OPEN = LINKER.downcallHandle(libc.find("open").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), errno);
        CLOSE = LINKER.downcallHandle(libc.find("close").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        LSEEK = LINKER.downcallHandle(libc.find("lseek").orElseThrow(), FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT), errno);
        FALLOCATE = LINKER.downcallHandle(libc.find("fallocate").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), errno);
    }

    /** A run of allocated bytes [offset, offset + length). */
    public record Range(long offset, long length) {}

    /** The allocated ranges of [offset, offset+length), in order (data may be rounded to fs blocks). */
    public static List<Range> dataRanges(Path file, long offset, long length) throws IOException {
        List<Range> out = new ArrayList<>();
        long end = offset + length;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cs = a.allocate(CAPTURE);
            int fd = open(a, cs, file, O_RDONLY);
            try {
                long pos = offset;
                while (pos < end) {
                    long data = (long) LSEEK.invokeExact(cs, fd, pos, SEEK_DATA);
                    if (data < 0) {
                        if ((int) ERRNO.get(cs, 0L) == ENXIO) break;  // no data after pos
                        throw new IOException("lseek(SEEK_DATA) on " + file + " failed: errno " + (int) ERRNO.get(cs, 0L));
                    }
                    if (data >= end) break;
                    long hole = (long) LSEEK.invokeExact(cs, fd, data, SEEK_HOLE);
                    if (hole < 0) throw new IOException("lseek(SEEK_HOLE) on " + file + " failed: errno " + (int) ERRNO.get(cs, 0L));
                    long s = Math.max(data, offset), e = Math.min(hole, end);
                    if (e > s) out.add(new Range(s, e - s));
                    pos = hole;
                }
            } finally {
                int ignored = (int) CLOSE.invokeExact(fd);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException("lseek on " + file + ": " + t, t);
        }
        return out;
    }

    /** Deallocates [offset, offset+length) keeping the size; returns false if unsupported here. */
    public static boolean punchHole(Path file, long offset, long length) throws IOException {
        if (length == 0) return true;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cs = a.allocate(CAPTURE);
            int fd = open(a, cs, file, O_WRONLY);
            try {
                int rc = (int) FALLOCATE.invokeExact(cs, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
                if (rc == 0) return true;
                int errno = (int) ERRNO.get(cs, 0L);
                if (errno == 95 /* EOPNOTSUPP */) return false;
                throw new IOException("fallocate(PUNCH_HOLE) on " + file + " failed: errno " + errno);
            } finally {
                int ignored = (int) CLOSE.invokeExact(fd);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException("fallocate on " + file + ": " + t, t);
        }
    }

    private static int open(Arena a, MemorySegment cs, Path file, int flags) throws Throwable {
        int fd = (int) OPEN.invokeExact(cs, a.allocateFrom(file.toString()), flags | O_CLOEXEC);
        if (fd < 0) throw new IOException("open " + file + " failed: errno " + (int) ERRNO.get(cs, 0L));
        return fd;
    }

}
