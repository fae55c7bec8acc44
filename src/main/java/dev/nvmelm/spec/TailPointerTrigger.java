package dev.nvmelm.spec;

/**
 * When a Controller Data Queue Tail Pointer event fires for an armed Tail Pointer Trigger (TPT).
 * The ratified text: TPT "specifies a slot in the CDQ that when posted with an entry causes the
 * controller to issue a Controller Data Queue Tail Pointer event" (NVMe Base 2.1, Figure 426;
 * the event is AEI 00h of Figure 154). Controllers in the field fire one slot early (see
 * {@link Disagreements#TAIL_POINTER_TRIGGER} and docs/spec.md, "Tail Pointer Trigger"); a host
 * must arm for the controller it talks to, so both rules live here, one choice per side.
 */
public enum TailPointerTrigger {
    /** NVMe Base 2.1, Figure 426: the entry posted into slot TPT fires the event. */
    SLOT_POSTED,
    /**
     * QEMU hw/nvme and the kernel RFC's test program: the event fires when the tail, advanced
     * past a posted entry, equals TPT, i.e. on the entry posted into slot TPT - 1 (mod N).
     */
    TAIL_REACHED;

    /** The rule a system property names, {@link #SLOT_POSTED} when it is unset. */
    static TailPointerTrigger fromProperty(String property) {
        String v = System.getProperty(property);
        if (v == null || v.isBlank()) return SLOT_POSTED;
        try {
            return valueOf(v.strip().toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("-D" + property + "=" + v + ": not a trigger rule (SLOT_POSTED or TAIL_REACHED)");
        }
    }

    /** Whether posting an entry into {@code slot} of an {@code entries}-slot ring fires a trigger armed at {@code tpt}. */
    public boolean fires(int slot, int tpt, int entries) {
        return switch (this) {
            case SLOT_POSTED -> slot == tpt;
            case TAIL_REACHED -> (slot + 1) % entries == tpt;
        };
    }

    /**
     * The TPT that fires on the {@code k}-th entry posted after the host's head {@code head}
     * (k = 1: the next entry, posted into slot {@code head}).
     */
    public int armFor(int head, int k, int entries) {
        if (k < 1 || k >= entries) throw new IllegalArgumentException("trigger distance " + k + " must be 1.." + (entries - 1));
        long slot = head + (long) k - (this == SLOT_POSTED ? 1 : 0);
        return (int) (slot % entries);
    }
}
