package dev.nvmelm.host;

import dev.nvmelm.spec.Status;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** What a command returned: CQE DW0/DW1 and the status (passthrough's {@code result} and return value). */
public record Completion(int dw0, int dw1, Status status) {

    public boolean ok() {
        return status.isSuccess();
    }

    /** Returns this completion, or throws {@link NvmeStatusException} if the status is not success. */
    public Completion orThrow(String what) throws NvmeStatusException {
        if (!ok()) throw new NvmeStatusException(what, status);
        return this;
    }

    static Completion await(String device, CompletableFuture<Completion> f, Duration timeout) throws NvmeException {
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            f.cancel(false);
            throw new NvmeException(device + ": command timed out after " + timeout.toMillis() + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NvmeException(device + ": interrupted while waiting for a command");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof NvmeException ne) throw ne;
            throw new NvmeException(device + ": " + c.getMessage(), c);
        }
    }
}
