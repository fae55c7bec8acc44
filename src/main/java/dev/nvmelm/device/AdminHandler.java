package dev.nvmelm.device;

import dev.nvmelm.device.Queues.CompletionQueue;
import dev.nvmelm.device.Queues.SubmissionQueue;
import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.AsyncEvent;
import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.Disagreements;
import dev.nvmelm.spec.GetLbaStatus;
import dev.nvmelm.spec.IdentifyController;
import dev.nvmelm.spec.IdentifyControllerNvm;
import dev.nvmelm.spec.IdentifyNamespace;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.AdminOpcode;
import dev.nvmelm.spec.IoOpcode;
import dev.nvmelm.spec.PendingTailPointerEvent;
import dev.nvmelm.spec.Prp;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.spec.SupportedControllerStateFormats;
import dev.nvmelm.spec.TrackSendCommand;
import dev.nvmelm.spec.WriteThrottleFeature;
import dev.nvmelm.spec.bus.DmaFault;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/** Admin commands (NVMe Base 2.1, section 5), including the HMLM ones, which only the MMC accepts. */
final class AdminHandler {
    /** Vendor-specific feature: limit an MC's write rate (CDW11 CNTLID, CDW12 writes/s, 0 = off). */
    static final int MCDQPC = 64;   // most PRP entries a PC=0 CDQ may use

    private final Controller c;
    private final Migration migration;

    AdminHandler(Controller c) {
        this.c = c;
        this.migration = new Migration(c);
    }

    Result execute(Sqe s) {
        try {
            AdminOpcode op = AdminOpcode.of(s.opcode()).orElse(null);
            if (op == null) return Result.error(StatusCodes.INVALID_OPCODE);
            return switch (op) {
                case IDENTIFY -> identify(s);
                case CREATE_IO_CQ -> createCq(AdminCommands.CreateIoCq.decode(s));
                case CREATE_IO_SQ -> createSq(AdminCommands.CreateIoSq.decode(s));
                case DELETE_IO_SQ -> deleteSq(s.cdw10() & 0xffff);
                case DELETE_IO_CQ -> deleteCq(s.cdw10() & 0xffff);
                case GET_LOG_PAGE -> logPage(s);
                case SET_FEATURES -> features(s, true);
                case GET_FEATURES -> features(s, false);
                case ASYNC_EVENT_REQUEST -> c.asyncEventRequest(s.cid());
                case ABORT -> Result.ok(1);   // bit 0 set: command not aborted
                case GET_LBA_STATUS -> lbaStatus(s);
                case FORMAT_NVM -> format(AdminCommands.FormatNvm.decode(s));
                case SANITIZE -> sanitize(AdminCommands.Sanitize.decode(s));
                case CONTROLLER_DATA_QUEUE, TRACK_SEND, TRACK_RECEIVE, MIGRATION_SEND, MIGRATION_RECEIVE -> {
                    if (!c.isMigrationManagement()) yield Result.error(StatusCodes.INVALID_OPCODE);
                    yield switch (op) {
                        case CONTROLLER_DATA_QUEUE -> cdq(s);
                        case TRACK_SEND -> trackSend(s);
                        case TRACK_RECEIVE -> Result.invalidField();   // memory tracking is not offered (TRATTR.THMCS = 0)
                        case MIGRATION_SEND -> migration.send(s);
                        default -> migration.receive(s);
                    };
                }
                // named in spec but not implemented here (Doorbell Buffer Config)
                default -> Result.error(StatusCodes.INVALID_OPCODE);
            };
        } catch (Dma.InvalidPrpOffset e) {
            return Result.error(StatusCodes.PRP_OFFSET_INVALID);
        } catch (IllegalArgumentException e) {
            return Result.invalidField();
        } catch (DmaFault e) {
            return Result.error(StatusCodes.DATA_TRANSFER_ERROR);
        }
    }

    // ---- Identify ----

    private Result identify(Sqe s) {
        var id = AdminCommands.Identify.decode(s);
        byte[] data = switch (id.cns()) {
            case AdminCommands.CNS_CONTROLLER -> identifyController().encode();
            case AdminCommands.CNS_NAMESPACE -> {
                Namespace ns = c.subsystem.namespace(c.cntlid, id.nsid());
                if (ns == null) yield null;
                long used = 0;
                try {
                    for (long[] r : ns.allocatedRuns(0, ns.lbaCount())) used += r[1];
                } catch (IOException e) {
                    used = ns.lbaCount();
                }
                yield new IdentifyNamespace(ns.lbaCount(), ns.lbaCount(), used, IdentifyNamespace.NSFEAT_THIN,
                        Integer.numberOfTrailingZeros(ns.lbaSizeBytes()), IoHandler.mssrl(ns), IoHandler.mcl(ns),
                        IoHandler.MAX_COPY_RANGES - 1).encode();
            }
            case AdminCommands.CNS_CS_NAMESPACE -> c.subsystem.namespace(c.cntlid, id.nsid()) == null ? null
                    : IdentifyControllerNvm.nvmNamespace(1);
            case AdminCommands.CNS_CS_CONTROLLER -> new IdentifyControllerNvm(IdentifyControllerNvm.AOCS_RALBAS,
                    Disagreements.LBAMQF_TYPE0).encode();
            case AdminCommands.CNS_ACTIVE_NS_LIST -> {
                // NSIDs greater than CDW1.NSID, compared unsigned; FFFFFFFEh and FFFFFFFFh are not a starting point
                if (Integer.compareUnsigned(id.nsid(), 0xfffffffe) >= 0) yield null;
                byte[] b = new byte[4096];
                MemorySegment m = MemorySegment.ofArray(b);
                int n = c.subsystem.namespacesOf(c.cntlid).size(), k = 0;
                for (int nsid = 1; nsid <= n && k < 1024; nsid++) {
                    if (Integer.compareUnsigned(nsid, id.nsid()) > 0) m.set(dev.nvmelm.spec.LittleEndian.U32, 4L * k++, nsid);
                }
                yield b;
            }
            case AdminCommands.CNS_CONTROLLER_STATE_FORMATS -> Migration.FORMATS.encode();
            default -> null;
        };
        if (data == null) {
            return id.cns() == AdminCommands.CNS_NAMESPACE || id.cns() == AdminCommands.CNS_CS_NAMESPACE
                    || id.cns() == AdminCommands.CNS_ACTIVE_NS_LIST ? Result.error(StatusCodes.INVALID_NS) : Result.invalidField();
        }
        byte[] out = java.util.Arrays.copyOf(data, 4096);
        Dma.toHost(c.memory(), s, MemorySegment.ofArray(out));
        return Result.ok();
    }

    IdentifyController identifyController() {
        boolean mmc = c.isMigrationManagement();
        int oacs = IdentifyController.OACS_FORMAT_NVM | IdentifyController.OACS_GET_LBA_STATUS | (mmc ? IdentifyController.OACS_HMLMS : 0);
        // MCUDMQ is what "the controller" (the MMC, which holds every UDMQ) supports and MNSUDMQ
        // the subsystem's (NVMe Base 2.1, section 5.1.4.1.1.1, page 209); one MMC, so both are
        // the table's size, bounded by one UDMQ per MC. NMCMR bounds the PRP1 memory ranges of
        // all CDQs together (section 5.1.4.1.1, page 207): every queue may use MCMR of them.
        int udmqs = Math.min(c.subsystem.config().migratable(), c.subsystem.cdqs.capacity());
        return new IdentifyController(0x1d1d, 0x1d1d, "NVMELM" + String.format("%04d", c.cntlid), "nvme-lm software controller",
                "0.1", 8 /* MDTS 2^8 * 4 KiB = 1 MiB */, c.cntlid, 0x00020100, 0, oacs, Controller.AERL, 0x0c,
                0x66, 0x44, 1024, c.subsystem.namespacesOf(c.cntlid).size(),
                IdentifyController.ONCS_DSM | IdentifyController.ONCS_WRITE_ZEROES | IdentifyController.ONCS_COPY,
                0, 0, 0, 0, mmc ? IdentifyController.TRATTR_TUDCS : 0, mmc ? udmqs : 0, mmc ? udmqs : 0,
                mmc ? MCDQPC : 0, mmc ? c.subsystem.cdqs.capacity() * MCDQPC : 0, mmc ? MCDQPC : 0, "nqn.2026-11.dev.nvmelm:subsys");
    }

    // ---- queues ----

    private Result createCq(AdminCommands.CreateIoCq cmd) {
        int qid = cmd.qid();
        if (qid < 1 || qid > Controller.MAX_IO_QUEUES || c.cqs[qid] != null) return Result.error(StatusCodes.INVALID_QID);
        if (cmd.qsizeZeroBased() < 1 || cmd.qsizeZeroBased() > Controller.MQES) return Result.error(StatusCodes.INVALID_QSIZE);
        if (!cmd.physicallyContiguous()) return Result.invalidField();   // CAP.CQR = 1
        if ((cmd.prp1() & 0xfff) != 0) return Result.error(StatusCodes.PRP_OFFSET_INVALID);
        c.cqs[qid] = new CompletionQueue(qid, cmd.qsizeZeroBased() + 1, cmd.interruptsEnabled(), cmd.interruptVector(), cmd.prp1(), c.memory());
        return Result.ok();
    }

    private Result createSq(AdminCommands.CreateIoSq cmd) {
        int qid = cmd.qid();
        if (qid < 1 || qid > Controller.MAX_IO_QUEUES || c.sqs[qid] != null) return Result.error(StatusCodes.INVALID_QID);
        if (cmd.cqid() < 1 || cmd.cqid() > Controller.MAX_IO_QUEUES || c.cqs[cmd.cqid()] == null) return Result.error(StatusCodes.CQ_INVALID);
        if (cmd.qsizeZeroBased() < 1 || cmd.qsizeZeroBased() > Controller.MQES) return Result.error(StatusCodes.INVALID_QSIZE);
        if (!cmd.physicallyContiguous()) return Result.invalidField();
        if ((cmd.prp1() & 0xfff) != 0) return Result.error(StatusCodes.PRP_OFFSET_INVALID);
        c.sqs[qid] = new SubmissionQueue(qid, cmd.cqid(), cmd.qsizeZeroBased() + 1, cmd.qprio(), cmd.prp1(), c.memory());
        return Result.ok();
    }

    private Result deleteSq(int qid) {
        if (qid < 1 || qid > Controller.MAX_IO_QUEUES || c.sqs[qid] == null) return Result.error(StatusCodes.INVALID_QID);
        c.sqs[qid] = null;   // commands of a synchronous controller are never in flight here
        return Result.ok();
    }

    private Result deleteCq(int qid) {
        if (qid < 1 || qid > Controller.MAX_IO_QUEUES || c.cqs[qid] == null) return Result.error(StatusCodes.INVALID_QID);
        for (SubmissionQueue sq : c.sqs) if (sq != null && sq.qid != 0 && sq.cqid == qid) return Result.error(StatusCodes.INVALID_QUEUE_DELETION);
        c.cqs[qid] = null;
        return Result.ok();
    }

    // ---- logs and features ----

    private Result logPage(Sqe s) {
        var lp = AdminCommands.GetLogPage.decode(s);
        long len = lp.lengthBytes();
        if (len > 1 << 20) return Result.invalidField();
        byte[] page = switch (lp.lid()) {
            case AdminCommands.LID_ERROR -> new byte[64];
            case AdminCommands.LID_COMMANDS_SUPPORTED -> commandsSupported();
            default -> null;
        };
        if (page == null) return Result.error(StatusCodes.INVALID_LOG_PAGE);
        // the offset (CDW12/13, 64 bits: "negative" when bit 63 is set) must be dword aligned and inside the page
        long off = lp.offsetBytes();
        if (off < 0 || off % 4 != 0 || off >= page.length) return Result.invalidField();
        byte[] out = new byte[(int) len];
        System.arraycopy(page, (int) off, out, 0, (int) Math.min(len, page.length - off));
        Dma.toHost(c.memory(), s, MemorySegment.ofArray(out));
        return Result.ok();
    }

    /**
     * Format NVM: only the current format (LBAF 0, no metadata, no PI), with or without a user
     * data erase — either way every LBA reads zeroes and is deallocated. A format is a change
     * to every LBA, so it is logged in the owning MC's queue as range entries covering the
     * namespace (see {@link Cdq#logNamespace}; docs/spec.md, "Format NVM and Sanitize"),
     * whichever controller (the MC, or the MMC through the shared NSID) sent it.
     */
    private Result format(AdminCommands.FormatNvm f) {
        if (f.lbaf() != 0 || f.mset() || f.pi() != 0 || f.pil()) return Result.error(StatusCodes.INVALID_FORMAT);
        if (f.ses() > AdminCommands.FormatNvm.SES_USER_DATA) return Result.invalidField();
        List<Namespace> targets;
        if (f.nsid() == 0xffffffff) {
            targets = c.subsystem.namespacesOf(c.cntlid);
        } else {
            Namespace ns = c.subsystem.namespace(c.cntlid, f.nsid());
            if (ns == null) return Result.error(StatusCodes.INVALID_NS);
            targets = List.of(ns);
        }
        return erase(targets);
    }

    /**
     * Sanitize: block erase, crypto erase (both: every LBA reads zeroes) or overwrite with the
     * pattern, on every namespace this controller reaches, each logged as a change of every LBA
     * (range entries, as for Format NVM). It completes
     * at once (the Sanitize Status log is not modelled). Exit Failure Mode has nothing to exit.
     */
    private Result sanitize(AdminCommands.Sanitize s) {
        // NVMe Base 2.1, section 5.1.22 (page 388) and Figure 374: "If one or more controllers in
        // the NVM subsystem is suspended ..., then the controller shall abort the command with a
        // status code of Controller Suspended" — a sanitize would change a migrating MC's data
        if (c.subsystem.anySuspended()) return Result.error(StatusCodes.CTRL_SUSPENDED);
        return switch (s.sanact()) {
            case AdminCommands.Sanitize.EXIT_FAILURE -> Result.ok();
            case AdminCommands.Sanitize.BLOCK_ERASE, AdminCommands.Sanitize.CRYPTO_ERASE -> erase(c.subsystem.namespacesOf(c.cntlid));
            case AdminCommands.Sanitize.OVERWRITE -> s.owpass() == 0 ? Result.invalidField()
                    : s.overwritePattern() == 0 ? erase(c.subsystem.namespacesOf(c.cntlid)) : overwrite(c.subsystem.namespacesOf(c.cntlid), s.overwritePattern());
            default -> Result.invalidField();
        };
    }

    private Result overwrite(List<Namespace> targets, int pattern) {
        java.nio.ByteBuffer p = java.nio.ByteBuffer.allocate(1 << 20).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        while (p.hasRemaining()) p.putInt(pattern);
        MemorySegment chunk = MemorySegment.ofArray(p.array());
        for (Namespace ns : targets) {
            long per = chunk.byteSize() / ns.lbaSizeBytes();
            try {
                for (long lba = 0; lba < ns.lbaCount(); lba += per) {
                    long n = Math.min(per, ns.lbaCount() - lba);
                    ns.write(lba, chunk.asSlice(0, n * ns.lbaSizeBytes()));
                }
            } catch (java.io.IOException e) {
                return Result.error(StatusCodes.INTERNAL);
            }
            logWholeNamespace(ns);
        }
        return Result.ok();
    }

    private Result erase(List<Namespace> targets) {
        for (Namespace ns : targets) {
            try {
                ns.writeZeroes(0, ns.lbaCount(), true);
            } catch (java.io.IOException e) {
                return Result.error(StatusCodes.INTERNAL);
            }
            logWholeNamespace(ns);
        }
        return Result.ok();
    }

    /** Range entries covering the namespace in the owning MC's queue, whichever controller changed it. */
    private void logWholeNamespace(Namespace ns) {
        int owner = c.isMigrationManagement() ? c.subsystem.ownerOf(globalNsidOf(ns))[0] : c.cntlid;
        Cdq q = c.subsystem.cdqs.forController(owner);
        if (q != null) q.logNamespace(ns.nsid(), ns.lbaCount());
    }

    /** The shared NSID the MMC uses for a namespace (its position in the MMC's list, 1-based). */
    private int globalNsidOf(Namespace ns) {
        return c.subsystem.namespacesOf(0).indexOf(ns) + 1;
    }

    /** Commands Supported and Effects (LID 05h): CSUPP for what we execute, LBCC for writes. */
    private byte[] commandsSupported() {
        byte[] b = new byte[4096];
        MemorySegment m = MemorySegment.ofArray(b);
        List<AdminOpcode> admin = new ArrayList<>(List.of(AdminOpcode.DELETE_IO_SQ, AdminOpcode.CREATE_IO_SQ,
                AdminOpcode.GET_LOG_PAGE, AdminOpcode.DELETE_IO_CQ, AdminOpcode.CREATE_IO_CQ, AdminOpcode.IDENTIFY,
                AdminOpcode.ABORT, AdminOpcode.SET_FEATURES, AdminOpcode.GET_FEATURES, AdminOpcode.ASYNC_EVENT_REQUEST,
                AdminOpcode.GET_LBA_STATUS));
        if (c.isMigrationManagement()) admin.addAll(List.of(AdminOpcode.TRACK_SEND, AdminOpcode.TRACK_RECEIVE,
                AdminOpcode.MIGRATION_SEND, AdminOpcode.MIGRATION_RECEIVE, AdminOpcode.CONTROLLER_DATA_QUEUE));
        for (AdminOpcode op : admin) m.set(dev.nvmelm.spec.LittleEndian.U32, 4L * op.value(), 1);
        m.set(dev.nvmelm.spec.LittleEndian.U32, 4L * AdminOpcode.FORMAT_NVM.value(), 1 | 2);   // CSUPP | LBCC
        m.set(dev.nvmelm.spec.LittleEndian.U32, 4L * AdminOpcode.SANITIZE.value(), 1 | 2);
        for (IoOpcode op : List.of(IoOpcode.FLUSH, IoOpcode.READ)) m.set(dev.nvmelm.spec.LittleEndian.U32, 1024 + 4L * op.value(), 1);
        for (IoOpcode op : List.of(IoOpcode.WRITE, IoOpcode.WRITE_ZEROES, IoOpcode.DATASET_MANAGEMENT, IoOpcode.COPY)) {
            m.set(dev.nvmelm.spec.LittleEndian.U32, 1024 + 4L * op.value(), 1 | 2);   // CSUPP | LBCC
        }
        return b;
    }

    /**
     * Set Features and Get Features, one branch per Feature Identifier: the checks a feature
     * makes (who may use it, which queue or controller it names) are made once for both.
     */
    private Result features(Sqe s, boolean set) {
        int fid = s.cdw10() & 0xff;
        if (set && s.cdw10() < 0) return Result.error(StatusCodes.FEATURE_NOT_SAVEABLE);
        return switch (fid) {
            case AdminCommands.FID_NUMBER_OF_QUEUES -> {
                int n = Controller.MAX_IO_QUEUES - 1;
                yield Result.ok(n | n << 16);
            }
            case AdminCommands.FID_ASYNC_EVENT_CONFIG -> Result.ok();
            case CdqFeature.FID -> {
                if (!c.isMigrationManagement()) yield Result.invalidField();
                int cdqid = set ? CdqFeature.SetCdq.decode(s).cdqid() : CdqFeature.GetCdq.decode(s).cdqid();
                Cdq q = c.subsystem.cdqs.get(cdqid);
                if (q == null) yield Result.error(StatusCodes.INVALID_CDQ);
                if (set) {
                    var cmd = CdqFeature.SetCdq.decode(s);
                    if (!q.setHeadAndTrigger(cmd.headPointer(), cmd.etpt(), cmd.tailPointerTrigger())) yield Result.invalidField();
                    // Figure 424 was not found: whether this withdraws an undelivered event is a choice
                    if (c.subsystem.choices().pendingTailPointerEvent() == PendingTailPointerEvent.DISCARDED) {
                        c.withdrawQueuedEvents(AsyncEvent.cdqTailPointer(cdqid));
                    }
                    yield Result.ok();
                }
                byte[] d = new byte[CdqFeature.CdqFeatureData.SIZE];
                new CdqFeature.CdqFeatureData(q.head(), q.tptValue()).encode(MemorySegment.ofArray(d), 0);
                Dma.toHost(c.memory(), s, MemorySegment.ofArray(d));
                yield Result.ok(cdqid | (q.etpt() ? 1 << 31 : 0));
            }
            case WriteThrottleFeature.FID -> {
                int target = WriteThrottleFeature.cntlid(s);
                if (!c.isMigrationManagement() || !c.subsystem.isMigratable(target)) yield Result.invalidField();
                Controller mc = c.subsystem.controller(target);
                if (!set) yield Result.ok((int) mc.throttleWriteIops);
                mc.throttleWriteIops = WriteThrottleFeature.writesPerSecond(s);
                yield Result.ok();
            }
            default -> Result.invalidField();
        };
    }

    // ---- HMLM: Controller Data Queue and Track Send ----

    private Result cdq(Sqe s) {
        ControllerDataQueueCommand cmd = ControllerDataQueueCommand.decode(s);
        return switch (cmd) {
            case ControllerDataQueueCommand.Create cr -> createCdq(cr);
            case ControllerDataQueueCommand.Delete d -> {
                Cdq q = c.subsystem.cdqs.remove(d.cdqid());
                if (q == null) yield Result.error(StatusCodes.INVALID_CDQ);
                q.delete();   // from here on nothing is written into the ring: the host may free it
                yield Result.ok();
            }
        };
    }

    /**
     * Create Controller Data Queue (NVMe Base 2.1, section 5.1.4.1.1): CDQSIZE a whole number of
     * entries (Figure 164), the CNTLID a migratable controller, one UDMQ per controller (Invalid
     * Field) and room in the table (Not Enough Resources), PRP1 and every PRP list entry with an
     * offset of 0h, else PRP Offset Invalid (Figure 162), memory that is host memory, else
     * Invalid Field.
     */
    private Result createCdq(ControllerDataQueueCommand.Create cr) {
        if (cr.queueType() != ControllerDataQueueCommand.QT_USER_DATA_MIGRATION) return Result.invalidField();
        if (!ControllerDataQueueCommand.Create.wholeUdmqEntries(cr.sizeDwords())) return Result.invalidField();
        long bytes = cr.sizeBytes();
        if (bytes < LbaMigrationEntry.SIZE * 2) return Result.invalidField();   // one slot always stays free: a ring needs two
        if (!c.subsystem.isMigratable(cr.cntlid())) return Result.of(c.subsystem.choices().unknownCntlid());
        if (c.subsystem.cdqs.forController(cr.cntlid()) != null) return Result.invalidField();   // one UDMQ per MC
        int cdqid = c.subsystem.cdqs.freeSlot();
        if (cdqid < 0) return Result.of(c.subsystem.choices().cdqTableFull());
        if ((cr.prp1() & (Dma.PAGE_SIZE - 1)) != 0) return Result.error(StatusCodes.PRP_OFFSET_INVALID);
        int entries = (int) Math.min(Integer.MAX_VALUE, bytes / LbaMigrationEntry.SIZE);
        MemorySegment[] pages;
        try {
            if (cr.physicallyContiguous()) {
                pages = new MemorySegment[]{c.memory().resolve(cr.prp1(), (long) entries * LbaMigrationEntry.SIZE)};
            } else {
                long ringBytes = (long) entries * LbaMigrationEntry.SIZE;
                int pageCount = (int) ((ringBytes + Dma.PAGE_SIZE - 1) / Dma.PAGE_SIZE);
                if (pageCount > MCDQPC) return Result.invalidField();
                long[] addrs;
                try {
                    addrs = Prp.listEntries(cr.prp1(), pageCount, Dma.PAGE_SIZE, c.memory());
                } catch (IllegalArgumentException offset) {
                    // for at most MCDQPC entries the list walk refuses only an entry with an offset
                    return Result.error(StatusCodes.PRP_OFFSET_INVALID);
                }
                pages = new MemorySegment[pageCount];
                for (int i = 0; i < pageCount; i++) pages[i] = c.memory().resolve(addrs[i], Dma.PAGE_SIZE);
            }
        } catch (DmaFault | IllegalArgumentException e) {
            return Result.invalidField();
        }
        Controller mmc = c;
        c.subsystem.cdqs.put(new Cdq(cdqid, cr.cntlid(), entries, pages, Dma.PAGE_SIZE, mmc::postAsyncEvent, c.subsystem.choices()));
        return Result.ok(cdqid);
    }

    private Result trackSend(Sqe s) {
        TrackSendCommand cmd = TrackSendCommand.decode(s);
        if (cmd.sel() != TrackSendCommand.SEL_LOG_USER_DATA) return Result.invalidField();   // memory tracking not offered
        if (cmd.lact() > TrackSendCommand.LACT_START) return Result.invalidField();
        Cdq q = c.subsystem.cdqs.get(cmd.cdqid());
        if (q == null) return Result.error(StatusCodes.INVALID_CDQ);
        Controller mc = c.subsystem.controller(q.cntlid);
        boolean start = cmd.lact() == TrackSendCommand.LACT_START;
        Controller.Deferred done = c.defer(0, s.cid());
        // The marker must be ordered with the MC's own logging and with Suspend/Resume, so the
        // state is checked and the marker posted on the MC's thread.
        mc.run(() -> c.finish(done, mc.state != Controller.State.ACTIVE ? Result.error(StatusCodes.CTRL_SUSPENDED) : Result.of(q.setLogging(start))));
        return Result.DEFERRED;
    }

    // ---- TP4165 Get LBA Status ----

    private Result lbaStatus(Sqe s) {
        var cmd = GetLbaStatus.Command.decode(s);
        if (cmd.atype() != GetLbaStatus.ATYPE_ALLOCATED) return Result.invalidField();
        Namespace ns = c.subsystem.namespace(c.cntlid, cmd.nsid());
        if (ns == null) return Result.error(StatusCodes.INVALID_NS);
        if (cmd.slba() < 0 || cmd.slba() >= ns.lbaCount()) return Result.error(StatusCodes.LBA_RANGE);
        long count = cmd.rangeLength() == 0 ? ns.lbaCount() - cmd.slba() : Math.min(cmd.rangeLength(), ns.lbaCount() - cmd.slba());
        long replyBytes = cmd.replyBytes();
        if (replyBytes < GetLbaStatus.HEADER || replyBytes > 1 << 20) return Result.invalidField();
        long room = (replyBytes - GetLbaStatus.HEADER) / GetLbaStatus.DESCRIPTOR;
        List<GetLbaStatus.Descriptor> out = new ArrayList<>();
        boolean complete = true;
        try {
            for (long[] r : ns.allocatedRuns(cmd.slba(), count)) {
                for (long at = r[0], left = r[1]; left > 0; ) {
                    if (out.size() == room) { complete = false; break; }
                    long n = Math.min(left, 1L << 32);
                    out.add(new GetLbaStatus.Descriptor(at, n));
                    at += n;
                    left -= n;
                }
                if (!complete) break;
            }
        } catch (IOException e) {
            return Result.error(StatusCodes.INTERNAL);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(replyBytes);
            new GetLbaStatus.Reply(complete, out).encode(buf);
            Dma.toHost(c.memory(), s, buf);
        }
        return Result.ok();
    }
}
