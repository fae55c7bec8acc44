package dev.nvmelm.net.proto;

import java.io.IOException;

/** A malformed, oversized or out-of-order frame: the connection is closed with this reason. */
public final class ProtocolException extends IOException {
    public ProtocolException(String message) {
        super(message);
    }
}
