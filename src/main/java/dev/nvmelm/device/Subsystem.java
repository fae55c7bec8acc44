package dev.nvmelm.device;

import dev.nvmelm.spec.ControllerChoices;
import dev.nvmelm.spec.TailPointerTrigger;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.IntFunction;
import java.util.function.LongSupplier;

/**
 * An NVM subsystem: a migration management controller (MMC, CNTLID 0) and K migratable
 * controllers (MC, CNTLID 1..K). Each MC has its own namespaces (NSID 1..N, files
 * {@code c<C>n<N>.img} in the directory); the MMC sees all of them as shared namespaces
 * (NSID (C-1)*N + n), so a host can read a suspended MC's data through the MMC. Only I/O from
 * an MC's own I/O queues is logged into that MC's User Data Migration Queue.
 */
public final class Subsystem implements AutoCloseable {

    /** {@code firstNamespaceFile}, when set, backs MC 1's NSID 1 instead of {@code dir/c1n1.img}. */
    public record Config(Path dir, long nsSizeBytes, int namespacesPerController, int migratable, int lbaSizeBytes, Path firstNamespaceFile) {
        public Config {
            if (migratable < 1 || migratable > 64) throw new IllegalArgumentException("--migratable must be 1..64");
            if (namespacesPerController < 1 || namespacesPerController > 16) throw new IllegalArgumentException("--namespaces must be 1..16");
        }

        public Config(Path dir, long nsSizeBytes, int namespacesPerController, int migratable, int lbaSizeBytes) {
            this(dir, nsSizeBytes, namespacesPerController, migratable, lbaSizeBytes, null);
        }

        Path namespaceFile(int cntlid, int nsid) {
            return cntlid == 1 && nsid == 1 && firstNamespaceFile != null ? firstNamespaceFile : dir.resolve("c" + cntlid + "n" + nsid + ".img");
        }
    }

    /**
     * Injected so tests can step controllers deterministically and control time. {@code choices}
     * picks the controller's behaviour where the field disagrees (docs/spec.md, "Disagreements"):
     * nvme-lm's (the spec's) by default, or e.g. QEMU's.
     */
    public record Options(IntFunction<ExecutorService> executorPerController, LongSupplier nanoClock, ControllerChoices choices) {
        public Options {
            java.util.Objects.requireNonNull(choices);
        }

        public Options(IntFunction<ExecutorService> executorPerController, LongSupplier nanoClock) {
            this(executorPerController, nanoClock, ControllerChoices.NVME_LM);
        }

        public static Options defaults() {
            return new Options(cntlid -> Executors.newSingleThreadExecutor(
                    Thread.ofPlatform().daemon().name("nvme-ctrl-" + cntlid).factory()), System::nanoTime);
        }

        public Options withChoices(ControllerChoices c) {
            return new Options(executorPerController, nanoClock, c);
        }

        public Options withTailPointerTrigger(TailPointerTrigger rule) {
            return withChoices(choices.withTailPointerTrigger(rule));
        }
    }

    private final Config config;
    private final Options options;
    private final List<Controller> controllers = new ArrayList<>();
    private final List<List<Namespace>> namespaces = new ArrayList<>();   // index = CNTLID - 1
    final CdqTable cdqs = new CdqTable(16);

    private Subsystem(Config config, Options options) {
        this.config = config;
        this.options = options;
    }

    public static Subsystem open(Config config) throws IOException {
        return open(config, Options.defaults());
    }

    public static Subsystem open(Config config, Options options) throws IOException {
        Files.createDirectories(config.dir());
        Subsystem s = new Subsystem(config, options);
        try {
            for (int c = 1; c <= config.migratable(); c++) {
                List<Namespace> ns = new ArrayList<>();
                for (int n = 1; n <= config.namespacesPerController(); n++) {
                    ns.add(new Namespace(n, config.namespaceFile(c, n), config.nsSizeBytes(), config.lbaSizeBytes()));
                }
                s.namespaces.add(Collections.unmodifiableList(ns));
            }
            for (int c = 0; c <= config.migratable(); c++) s.controllers.add(new Controller(c, s, options.executorPerController().apply(c)));
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    public Config config() { return config; }

    LongSupplier clock() { return options.nanoClock(); }

    ControllerChoices choices() { return options.choices(); }

    public Controller controller(int cntlid) {
        if (cntlid < 0 || cntlid >= controllers.size()) throw new IllegalArgumentException("no controller with CNTLID " + cntlid);
        return controllers.get(cntlid);
    }

    public boolean isMigratable(int cntlid) {
        return cntlid >= 1 && cntlid <= config.migratable();
    }

    public int controllerCount() {
        return controllers.size();
    }

    /** Whether a Migration Send Suspend has suspended (or is suspending) any controller. */
    boolean anySuspended() {
        return controllers.stream().anyMatch(c -> c.migrationState() != Controller.State.ACTIVE);
    }

    /** The namespaces a controller sees, indexed by NSID - 1. */
    public List<Namespace> namespacesOf(int cntlid) {
        if (cntlid == 0) return namespaces.stream().flatMap(List::stream).toList();
        return namespaces.get(cntlid - 1);
    }

    /** The namespace NSID {@code nsid} names on controller {@code cntlid}, or null. */
    Namespace namespace(int cntlid, int nsid) {
        List<Namespace> l = namespacesOf(cntlid);
        return nsid >= 1 && nsid <= l.size() ? l.get(nsid - 1) : null;
    }

    /** Maps an MMC (shared) NSID to (CNTLID, NSID on that MC). */
    int[] ownerOf(int globalNsid) {
        int per = config.namespacesPerController();
        return new int[]{(globalNsid - 1) / per + 1, (globalNsid - 1) % per + 1};
    }

    public void flush() throws IOException {
        for (List<Namespace> l : namespaces) for (Namespace n : l) n.flush();
    }

    @Override
    public void close() throws IOException {
        for (Controller c : controllers) c.shutdown();
        IOException first = null;
        for (List<Namespace> l : namespaces) {
            for (Namespace n : l) {
                try {
                    n.flush();
                    n.close();
                } catch (IOException e) {
                    if (first == null) first = e;
                }
            }
        }
        if (first != null) throw first;
    }

    /** The MMC's table of Controller Data Queues, CDQID 0..capacity-1 (lowest free first). */
    static final class CdqTable {
        private final Cdq[] slots;

        CdqTable(int capacity) {
            slots = new Cdq[capacity];
        }

        synchronized int freeSlot() {
            for (int i = 0; i < slots.length; i++) if (slots[i] == null) return i;
            return -1;
        }

        synchronized void put(Cdq q) {
            slots[q.cdqid] = q;
        }

        synchronized Cdq get(int cdqid) {
            return cdqid >= 0 && cdqid < slots.length ? slots[cdqid] : null;
        }

        synchronized Cdq forController(int cntlid) {
            for (Cdq q : slots) if (q != null && q.cntlid == cntlid) return q;
            return null;
        }

        synchronized Cdq remove(int cdqid) {
            Cdq q = get(cdqid);
            if (q != null) slots[cdqid] = null;
            return q;
        }

        synchronized List<Cdq> all() {
            List<Cdq> l = new ArrayList<>();
            for (Cdq q : slots) if (q != null) l.add(q);
            return l;
        }

        int capacity() {
            return slots.length;
        }
    }
}
