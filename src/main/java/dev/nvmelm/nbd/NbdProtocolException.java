package dev.nvmelm.nbd;

import java.io.IOException;

/**
 * Bytes that are not a well-formed NBD message (bad magic, a length beyond its bound, a
 * truncated or inconsistent body): what {@link NbdCodec} throws for anything it cannot decode.
 * The server answers malformed option data with NBD_REP_ERR_INVALID and closes the connection
 * on a malformed header; the client fails the connection.
 */
public final class NbdProtocolException extends IOException {
    public NbdProtocolException(String message) {
        super(message);
    }
}
