package dev.nvmelm.host.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Locale;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The libc calls the Linux backend needs, through FFM (docs/linux-backend.md):
 * open, close, ioctl, statx, eventfd, poll, read, write, pipe2 and strerror. Every call that can
 * fail captures errno with {@code Linker.Option.captureCallState("errno")} (the only reliable
 * way to read it after a downcall) and throws {@link LibcException} on -1.
 *
 * <p>Constants are the asm-generic values (x86_64, aarch64, riscv64); {@link NvmeIoctl#checkArchitecture()}
 * refuses other architectures. No call uses {@code Linker.Option.critical}: ioctl, poll and read can
 * block, and a blocking downcall also pins a virtual thread's carrier, so callers block only on
 * platform threads.
 */
final class Libc {
    private Libc() {}

    // fcntl.h, sys/eventfd.h, poll.h, sys/stat.h (values checked with gcc against glibc 2.36 headers)
    static final int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_NOCTTY = 0x100, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
    static final int EFD_NONBLOCK = 0x800, EFD_CLOEXEC = 0x80000;
    static final short POLLIN = 0x1, POLLERR = 0x8, POLLHUP = 0x10, POLLNVAL = 0x20;
    static final int AT_FDCWD = -100, AT_EMPTY_PATH = 0x1000, STATX_TYPE = 0x1, STATX_MODE = 0x2;
    static final int S_IFMT = 0170000, S_IFSOCK = 0140000, S_IFLNK = 0120000, S_IFREG = 0100000, S_IFBLK = 0060000,
            S_IFDIR = 0040000, S_IFCHR = 0020000, S_IFIFO = 0010000;

    // errno (asm-generic)
    static final int EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, ENXIO = 6, EBADF = 9, EAGAIN = 11, ENOMEM = 12,
            EACCES = 13, EFAULT = 14, EBUSY = 16, ENODEV = 19, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, ENOTTY = 25,
            ENOSPC = 28, ESPIPE = 29, EROFS = 30, ENAMETOOLONG = 36, ELOOP = 40, EOPNOTSUPP = 95, ETIMEDOUT = 110;

    private static final Map<Integer, String> ERRNO_NAMES = Map.ofEntries(
            Map.entry(EPERM, "EPERM"), Map.entry(ENOENT, "ENOENT"), Map.entry(EINTR, "EINTR"), Map.entry(EIO, "EIO"),
            Map.entry(ENXIO, "ENXIO"), Map.entry(EBADF, "EBADF"), Map.entry(EAGAIN, "EAGAIN"), Map.entry(ENOMEM, "ENOMEM"),
            Map.entry(EACCES, "EACCES"), Map.entry(EFAULT, "EFAULT"), Map.entry(EBUSY, "EBUSY"), Map.entry(ENODEV, "ENODEV"),
            Map.entry(ENOTDIR, "ENOTDIR"), Map.entry(EISDIR, "EISDIR"), Map.entry(EINVAL, "EINVAL"), Map.entry(ENOTTY, "ENOTTY"),
            Map.entry(ENOSPC, "ENOSPC"), Map.entry(ESPIPE, "ESPIPE"), Map.entry(EROFS, "EROFS"),
            Map.entry(ENAMETOOLONG, "ENAMETOOLONG"), Map.entry(ELOOP, "ELOOP"), Map.entry(EOPNOTSUPP, "EOPNOTSUPP"),
            Map.entry(ETIMEDOUT, "ETIMEDOUT"));

    /** struct pollfd {int fd; short events; short revents;}: 8 bytes. */
    static final StructLayout POLLFD = MemoryLayout.structLayout(
            JAVA_INT.withName("fd"), JAVA_SHORT.withName("events"), JAVA_SHORT.withName("revents"));

    /**
     * struct statx (linux/stat.h): 256 bytes, the same on every architecture, which is why it is
     * used instead of struct stat. Only the fields read here are named.
     */
    static final long STATX_SIZE = 256, STX_MODE = 28, STX_RDEV_MAJOR = 128, STX_RDEV_MINOR = 132;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle OPEN, CLOSE, IOCTL, STATX, EVENTFD, POLL, READ, WRITE, PIPE2, STRERROR;

    static {
        SymbolLookup libc = LINKER.defaultLookup();
        Linker.Option errno = Linker.Option.captureCallState("errno");
        // int open(const char *path, int flags, ...): the mode is variadic
        OPEN = LINKER.downcallHandle(libc.find("open").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2), errno);
        CLOSE = LINKER.downcallHandle(libc.find("close").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT), errno);
        // int ioctl(int fd, unsigned long request, ...): the argument pointer is variadic
        IOCTL = LINKER.downcallHandle(libc.find("ioctl").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2), errno);
        // int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf)
        STATX = LINKER.downcallHandle(libc.find("statx").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS), errno);
        EVENTFD = LINKER.downcallHandle(libc.find("eventfd").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), errno);
        // int poll(struct pollfd *fds, nfds_t nfds, int timeout); nfds_t is unsigned long
        POLL = LINKER.downcallHandle(libc.find("poll").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), errno);
        READ = LINKER.downcallHandle(libc.find("read").orElseThrow(), FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), errno);
        WRITE = LINKER.downcallHandle(libc.find("write").orElseThrow(), FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), errno);
        PIPE2 = LINKER.downcallHandle(libc.find("pipe2").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), errno);
        STRERROR = LINKER.downcallHandle(libc.find("strerror").orElseThrow(), FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    /** One errno capture buffer per thread: the calls below run on many threads at once. */
    private static final ThreadLocal<MemorySegment> CAPTURED = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));

    private static int errno(MemorySegment cs) {
        return (int) ERRNO.get(cs, 0L);
    }

    /** A fatal FFM failure (a bad descriptor or segment in our own code): never an errno. */
    private static RuntimeException linkage(String call, Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(call + ": " + t, t);
    }

    static int open(String path, int flags) throws LibcException {
        MemorySegment cs = CAPTURED.get();
        int fd;
        try (Arena a = Arena.ofConfined()) {
            fd = (int) OPEN.invokeExact(cs, a.allocateFrom(path), flags, 0);
        } catch (Throwable t) {
            throw linkage("open", t);
        }
        if (fd < 0) throw new LibcException("open(" + path + ")", errno(cs));
        return fd;
    }

    static void close(int fd) throws LibcException {
        MemorySegment cs = CAPTURED.get();
        int rc;
        try {
            rc = (int) CLOSE.invokeExact(cs, fd);
        } catch (Throwable t) {
            throw linkage("close", t);
        }
        if (rc < 0) throw new LibcException("close(" + fd + ")", errno(cs));
    }

    /** Closes and ignores failure: for clean-up paths that already report another error. */
    static void closeQuietly(int fd) {
        if (fd < 0) return;
        try {
            close(fd);
        } catch (LibcException ignored) {
            // nothing more can be done about a failed close
        }
    }

    /**
     * ioctl(fd, request, arg). Returns the non-negative result (for NVMe passthrough, a positive
     * value is the NVMe status field); throws on -1.
     *
     * @param name the request's name, for the exception
     */
    static int ioctl(int fd, long request, MemorySegment arg, String name) throws LibcException {
        MemorySegment cs = CAPTURED.get();
        int rc;
        try {
            rc = (int) IOCTL.invokeExact(cs, fd, request, arg);
        } catch (Throwable t) {
            throw linkage("ioctl", t);
        }
        if (rc == -1) throw new LibcException("ioctl(" + name + ")", errno(cs));
        return rc;
    }

    /** File type and device numbers, from statx. */
    record Stat(int mode, int rdevMajor, int rdevMinor) {
        int type() { return mode & S_IFMT; }

        boolean isCharDevice() { return type() == S_IFCHR; }

        boolean isBlockDevice() { return type() == S_IFBLK; }

        /** "a regular file", "a directory", ... for messages. */
        String typeName() {
            return switch (type()) {
                case S_IFREG -> "a regular file";
                case S_IFDIR -> "a directory";
                case S_IFCHR -> "a character device";
                case S_IFBLK -> "a block device";
                case S_IFIFO -> "a FIFO";
                case S_IFSOCK -> "a socket";
                case S_IFLNK -> "a symbolic link";
                default -> "a file of type 0" + Integer.toOctalString(type());
            };
        }
    }

    /** statx of a path, following symbolic links (as open does). */
    static Stat stat(String path) throws LibcException {
        return statx(AT_FDCWD, path, 0, "statx(" + path + ")");
    }

    /** statx of an open descriptor (AT_EMPTY_PATH): the fstat of the file actually opened. */
    static Stat fstat(int fd) throws LibcException {
        return statx(fd, "", AT_EMPTY_PATH, "statx(fd " + fd + ")");
    }

    private static Stat statx(int dirfd, String path, int flags, String call) throws LibcException {
        MemorySegment cs = CAPTURED.get();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(STATX_SIZE, 8);
            int rc;
            try {
                rc = (int) STATX.invokeExact(cs, dirfd, a.allocateFrom(path), flags, STATX_TYPE | STATX_MODE, buf);
            } catch (Throwable t) {
                throw linkage("statx", t);
            }
            if (rc < 0) throw new LibcException(call, errno(cs));
            return new Stat(Short.toUnsignedInt(buf.get(JAVA_SHORT, STX_MODE)), buf.get(JAVA_INT, STX_RDEV_MAJOR),
                    buf.get(JAVA_INT, STX_RDEV_MINOR));
        }
    }

    static int eventfd(int initialValue, int flags) throws LibcException {
        MemorySegment cs = CAPTURED.get();
        int fd;
        try {
            fd = (int) EVENTFD.invokeExact(cs, initialValue, flags);
        } catch (Throwable t) {
            throw linkage("eventfd", t);
        }
        if (fd < 0) throw new LibcException("eventfd", errno(cs));
        return fd;
    }

    /**
     * poll(2) on one descriptor. Returns the revents (0 on timeout). EINTR is returned to the
     * caller as an exception, which decides whether to retry with the time left.
     */
    static short poll(int fd, short events, int timeoutMs) throws LibcException {
        MemorySegment cs = CAPTURED.get();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(POLLFD);
            p.set(JAVA_INT, 0, fd);
            p.set(JAVA_SHORT, 4, events);
            int rc;
            try {
                rc = (int) POLL.invokeExact(cs, p, 1L, timeoutMs);
            } catch (Throwable t) {
                throw linkage("poll", t);
            }
            if (rc < 0) throw new LibcException("poll(fd " + fd + ")", errno(cs));
            return rc == 0 ? 0 : p.get(JAVA_SHORT, 6);
        }
    }

    /** read(2) into native memory; returns the byte count (0 at end of file). */
    static long read(int fd, MemorySegment buf, long count) throws LibcException {
        return transfer(READ, "read", fd, buf, count);
    }

    /** write(2) from native memory; returns the byte count. */
    static long write(int fd, MemorySegment buf, long count) throws LibcException {
        return transfer(WRITE, "write", fd, buf, count);
    }

    /** read(2) and write(2) share one signature: (captured state, fd, buffer, count) -> ssize_t. */
    private static long transfer(MethodHandle call, String name, int fd, MemorySegment buf, long count) throws LibcException {
        checkNative(buf, count);
        MemorySegment cs = CAPTURED.get();
        long n;
        try {
            n = (long) call.invokeExact(cs, fd, buf, count);
        } catch (Throwable t) {
            throw linkage(name, t);
        }
        if (n < 0) throw new LibcException(name + "(fd " + fd + ")", errno(cs));
        return n;
    }

    /** pipe2(2): {read end, write end}. */
    static int[] pipe(int flags) throws LibcException {
        MemorySegment cs = CAPTURED.get();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fds = a.allocate(JAVA_INT, 2);
            int rc;
            try {
                rc = (int) PIPE2.invokeExact(cs, fds, flags);
            } catch (Throwable t) {
                throw linkage("pipe2", t);
            }
            if (rc < 0) throw new LibcException("pipe2", errno(cs));
            return new int[] {fds.getAtIndex(JAVA_INT, 0), fds.getAtIndex(JAVA_INT, 1)};
        }
    }

    private static void checkNative(MemorySegment buf, long count) {
        if (!buf.isNative()) throw new IllegalArgumentException("read/write need native memory");
        if (count < 0 || count > buf.byteSize()) throw new IndexOutOfBoundsException(count + " bytes into a segment of " + buf.byteSize());
    }

    /** The C library's text for an errno (glibc's strerror is thread-safe since 2.32). */
    static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            if (s.equals(MemorySegment.NULL)) return "errno " + errno;
            return s.reinterpret(1024).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    /** The symbolic name of an errno the backend knows, else "errno N". */
    static String errnoName(int errno) {
        String n = ERRNO_NAMES.get(errno);
        return n != null ? n : "errno " + errno;
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v).toUpperCase(Locale.ROOT);
    }
}
