package dev.nvmelm.nbd;

import java.io.IOException;

/** A request failed with an NBD errno (EIO, ENOSPC, ENOTSUP, ...) that goes back to the client. */
public final class NbdError extends IOException {
    private final int errno;

    public NbdError(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
