package dev.nvmelm.host;

/**
 * A failure to talk to a device (missing, wrong kind, permission, timeout, link). The message
 * is one line that names the device and says what to do; the CLI prints it as is.
 */
public class NvmeException extends Exception {
    public NvmeException(String message) {
        super(message);
    }

    public NvmeException(String message, Throwable cause) {
        super(message, cause);
    }
}
