package dev.nvmelm.host.sim;

import java.io.IOException;

/** The peer broke the {@link SimMessage} protocol; the connection is closed. */
public final class SimProtocolException extends IOException {
    public SimProtocolException(String message) {
        super(message);
    }
}
