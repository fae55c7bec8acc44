package dev.nvmelm.vm;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Two "hosts" on one machine: two network namespaces this process creates, joined by a veth
 * pair, each end with an address inside its namespace only (nothing is added to the machine's
 * own network). Processes run on a host through {@code ip netns exec}. {@link #close} deletes
 * both namespaces, which removes the veth pair with them.
 *
 * <p>Why namespaces and not loopback: the migration streams (QEMU's RAM, the agents' TLS) then
 * cross a real link with real addresses, and a test can cut that link ({@link #linkDown}).
 */
public final class TwoHosts implements AutoCloseable {
    /** One side: its namespace, the name of its veth end, its address on the link. */
    public record Host(String netns, String device, String address) {
        /** {@code cmd} as run inside this host's namespace. */
        public List<String> command(List<String> cmd) {
            List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", netns));
            all.addAll(cmd);
            return all;
        }

        public ProcessBuilder process(List<String> cmd) {
            return new ProcessBuilder(command(cmd));
        }
    }

    /** The hosts cannot be made here (no {@code ip}, not root, namespaces refused): the reason in words. */
    public static final class UnavailableException extends IOException {
        public UnavailableException(String why) {
            super(why);
        }
    }

    private static final long COMMAND_TIMEOUT_S = 20;
    private final Host a, b;
    private boolean closed;

    private TwoHosts(Host a, Host b) {
        this.a = a;
        this.b = b;
    }

    /**
     * Creates hosts "A" and "B" named {@code prefix} plus this process's PID (so concurrent runs
     * do not collide), on the subnet 10.231.S.0/24 with S derived from the PID.
     */
    public static TwoHosts create(String prefix) throws IOException {
        long pid = ProcessHandle.current().pid();
        String base = prefix + pid % 100000;
        int subnet = 100 + (int) (pid % 150);
        Host a = new Host(base + "a", base + "A", "10.231." + subnet + ".1");
        Host b = new Host(base + "b", base + "B", "10.231." + subnet + ".2");
        if (run(List.of("ip", "netns", "add", a.netns())) != 0) {
            throw new UnavailableException("cannot create network namespace " + a.netns() + " (needs root and the ip command)");
        }
        TwoHosts hosts = new TwoHosts(a, b);
        try {
            must(List.of("ip", "netns", "add", b.netns()));
            // the pair is created inside A, then one end moves to B: nothing touches the root namespace
            must(a.command(List.of("ip", "link", "add", a.device(), "type", "veth", "peer", "name", b.device())));
            must(a.command(List.of("ip", "link", "set", b.device(), "netns", b.netns())));
            for (Host h : List.of(a, b)) {
                must(h.command(List.of("ip", "addr", "add", h.address() + "/24", "dev", h.device())));
                must(h.command(List.of("ip", "link", "set", h.device(), "up")));
                must(h.command(List.of("ip", "link", "set", "lo", "up")));
            }
            return hosts;
        } catch (IOException | RuntimeException e) {
            hosts.close();
            throw e;
        }
    }

    public Host a() {
        return a;
    }

    public Host b() {
        return b;
    }

    /** Takes the link down (both ends see it go): a cut cable, until {@link #linkUp}. */
    public void linkDown() throws IOException {
        must(a.command(List.of("ip", "link", "set", a.device(), "down")));
    }

    public void linkUp() throws IOException {
        must(a.command(List.of("ip", "link", "set", a.device(), "up")));
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (Host h : List.of(a, b)) {
            try {
                run(List.of("ip", "netns", "del", h.netns()));
            } catch (IOException e) {
                // best effort: a namespace that is already gone is what close wants
            }
        }
    }

    private static void must(List<String> cmd) throws IOException {
        int rc = run(cmd);
        if (rc != 0) throw new IOException(String.join(" ", cmd) + " failed (exit " + rc + ")");
    }

    private static int run(List<String> cmd) throws IOException {
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            throw new UnavailableException("cannot run " + cmd.getFirst() + ": " + e.getMessage());
        }
        try {
            if (!p.waitFor(COMMAND_TIMEOUT_S, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + " did not finish in " + COMMAND_TIMEOUT_S + " s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + String.join(" ", cmd), e);
        }
        return p.exitValue();
    }
}
