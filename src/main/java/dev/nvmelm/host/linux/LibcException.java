package dev.nvmelm.host.linux;

/** A libc call returned -1: the call, its errno and the C library's text for it. */
final class LibcException extends Exception {
    private final String call;
    private final int errno;

    LibcException(String call, int errno) {
        super(call + ": " + Libc.strerror(errno) + " (" + Libc.errnoName(errno) + ")");
        this.call = call;
        this.errno = errno;
    }

    /** The call that failed, e.g. {@code ioctl(NVME_IOCTL_ADMIN64_CMD)}. */
    String call() {
        return call;
    }

    int errno() {
        return errno;
    }

    /** {@code ENOTTY}, {@code EACCES}, ... or {@code errno N}. */
    String errnoName() {
        return Libc.errnoName(errno);
    }
}
