package dev.nvmelm.util;

import java.util.Arrays;
import java.util.Optional;

/**
 * Deliberate defects that prove the simulator can fail (docs/testing.md "The simulator"). Each is
 * one guarded branch in the real code path, written {@code if (Mutant.on(Mutant.X)) ...}. None is
 * ever on in production: only the simulator calls {@link #activate}, and a test holds that no
 * code under src/main does.
 */
public enum Mutant {
    /** The final copy does not wait for the CDQ's ESA 3 marker (NVMe Base 2.1, Figure 463). */
    SKIP_FINAL_DRAIN("skip-final-drain"),
    /** An ESA 7 (CDQ Full) entry is treated as an ordinary one, so its lost ranges are not copied. */
    IGNORE_CDQ_FULL("ignore-cdq-full"),
    /** The destination agent acknowledges a FLUSH before its fsync. */
    ACK_BEFORE_DURABLE("ack-before-durable"),
    /** A reconnecting source resumes one frame late. */
    RESEND_OFF_BY_ONE("resend-off-by-one");

    private static volatile Mutant active;

    private final String cliName;

    Mutant(String cliName) { this.cliName = cliName; }

    /** The name {@code simulate.sh --mutant} takes. */
    public String cliName() { return cliName; }

    /** True while {@code m} is the active mutant; false always in production. */
    public static boolean on(Mutant m) { return active == m; }

    /** Switches {@code m} on (null: none). For the simulator only. */
    public static void activate(Mutant m) { active = m; }

    public static Optional<Mutant> byCliName(String name) {
        return Arrays.stream(values()).filter(m -> m.cliName.equals(name)).findFirst();
    }
}
