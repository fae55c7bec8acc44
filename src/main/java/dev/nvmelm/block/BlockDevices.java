package dev.nvmelm.block;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/** Helpers for the asynchronous side of {@link BlockDevice}. */
public final class BlockDevices {
    private BlockDevices() {}

    /** A blocking block-device call. */
    public interface Call {
        void run() throws IOException;
    }

    /** Runs a blocking call on its own virtual thread; the future fails with its IOException. */
    public static CompletableFuture<Void> onVirtualThread(Call call) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        Thread.ofVirtual().name("block-io").start(() -> {
            try {
                call.run();
                f.complete(null);
            } catch (IOException | RuntimeException e) {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    /** The IOException behind an asynchronous call's failure (wrapped as one if it was something else). */
    public static IOException cause(Throwable t) {
        Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        return c instanceof IOException io ? io : new IOException(c.toString(), c);
    }
}
