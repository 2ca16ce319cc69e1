/* nbd_proto.h: the NBD protocol (NetworkBlockDevice/nbd doc/proto.md) as
 * incremental parsers and encoders over byte buffers, for both ends:
 *
 *  - the server's side: the fixed newstyle handshake (client flags, options
 *    EXPORT_NAME / INFO / GO / LIST / ABORT / STRUCTURED_REPLY / STARTTLS)
 *    and the transmission phase's requests (READ / WRITE / FLUSH / TRIM /
 *    WRITE_ZEROES / DISC with FUA), bn_nbd_srv_parse();
 *  - the client's side: the server's greeting, option replies, the
 *    EXPORT_NAME answer, and simple and structured replies (OFFSET_DATA,
 *    NONE, ERROR, ERROR_OFFSET, OFFSET_HOLE), bn_nbd_cli_parse().
 *
 * No sockets here: a parser is given the bytes that arrived so far (one
 * contiguous buffer) and returns how many it consumed with one event, or 0
 * and how many bytes it needs in all before it can say more, or -errno when
 * the peer broke the protocol (the caller then disconnects). The same code
 * serves a non-blocking socket on a bn_loop and a fuzzer.
 *
 * Everything from the peer is validated before use: magics, lengths (an
 * option's data at most BN_NBD_MAX_OPT, a payload at most BN_NBD_MAX_PAYLOAD),
 * offsets and lengths within the export, flags the command allows. A request
 * that is well framed but invalid (beyond the export's end, a write to a
 * read-only export, an unadvertised command) is still an event, with
 * ev->err set to the NBD error the server answers with; only what breaks the
 * framing disconnects.
 */
#ifndef BN_NBD_PROTO_H
#define BN_NBD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- protocol constants (proto.md) ----------------------------------- */
#define BN_NBD_MAGIC         0x4e42444d41474943ULL /* "NBDMAGIC" */
#define BN_NBD_OPTS_MAGIC    0x49484156454f5054ULL /* "IHAVEOPT" */
#define BN_NBD_REP_MAGIC     0x0003e889045565a9ULL
#define BN_NBD_REQUEST_MAGIC 0x25609513U
#define BN_NBD_SIMPLE_MAGIC  0x67446698U
#define BN_NBD_STRUCT_MAGIC  0x668e33efU

/* handshake flags (server), client flags */
#define BN_NBD_FLAG_FIXED_NEWSTYLE   (1U << 0)
#define BN_NBD_FLAG_NO_ZEROES        (1U << 1)
#define BN_NBD_FLAG_C_FIXED_NEWSTYLE (1U << 0)
#define BN_NBD_FLAG_C_NO_ZEROES      (1U << 1)

/* transmission flags */
#define BN_NBD_FLAG_HAS_FLAGS         (1U << 0)
#define BN_NBD_FLAG_READ_ONLY         (1U << 1)
#define BN_NBD_FLAG_SEND_FLUSH        (1U << 2)
#define BN_NBD_FLAG_SEND_FUA          (1U << 3)
#define BN_NBD_FLAG_ROTATIONAL        (1U << 4)
#define BN_NBD_FLAG_SEND_TRIM         (1U << 5)
#define BN_NBD_FLAG_SEND_WRITE_ZEROES (1U << 6)
#define BN_NBD_FLAG_SEND_DF           (1U << 7)
#define BN_NBD_FLAG_CAN_MULTI_CONN    (1U << 8)

/* options */
#define BN_NBD_OPT_EXPORT_NAME      1U
#define BN_NBD_OPT_ABORT            2U
#define BN_NBD_OPT_LIST             3U
#define BN_NBD_OPT_STARTTLS         5U
#define BN_NBD_OPT_INFO             6U
#define BN_NBD_OPT_GO               7U
#define BN_NBD_OPT_STRUCTURED_REPLY 8U

/* option reply types */
#define BN_NBD_REP_ACK          1U
#define BN_NBD_REP_SERVER       2U
#define BN_NBD_REP_INFO         3U
#define BN_NBD_REP_FLAG_ERROR   (1U << 31)
#define BN_NBD_REP_ERR_UNSUP    (BN_NBD_REP_FLAG_ERROR | 1U)
#define BN_NBD_REP_ERR_POLICY   (BN_NBD_REP_FLAG_ERROR | 2U)
#define BN_NBD_REP_ERR_INVALID  (BN_NBD_REP_FLAG_ERROR | 3U)
#define BN_NBD_REP_ERR_TLS_REQD (BN_NBD_REP_FLAG_ERROR | 5U)
#define BN_NBD_REP_ERR_UNKNOWN  (BN_NBD_REP_FLAG_ERROR | 6U)

/* NBD_REP_INFO types */
#define BN_NBD_INFO_EXPORT     0U
#define BN_NBD_INFO_NAME       1U
#define BN_NBD_INFO_BLOCK_SIZE 3U

/* commands and command flags */
#define BN_NBD_CMD_READ         0U
#define BN_NBD_CMD_WRITE        1U
#define BN_NBD_CMD_DISC         2U
#define BN_NBD_CMD_FLUSH        3U
#define BN_NBD_CMD_TRIM         4U
#define BN_NBD_CMD_WRITE_ZEROES 6U
#define BN_NBD_CMD_FLAG_FUA     (1U << 0)
#define BN_NBD_CMD_FLAG_NO_HOLE (1U << 1)
#define BN_NBD_CMD_FLAG_DF      (1U << 2)

/* structured reply chunks */
#define BN_NBD_REPLY_FLAG_DONE    (1U << 0)
#define BN_NBD_REPLY_NONE         0U
#define BN_NBD_REPLY_OFFSET_DATA  1U
#define BN_NBD_REPLY_OFFSET_HOLE  2U
#define BN_NBD_REPLY_ERROR        ((1U << 15) | 1U)
#define BN_NBD_REPLY_ERROR_OFFSET ((1U << 15) | 2U)

/* errors on the wire (Linux values, whatever the host's errno are) */
#define BN_NBD_EPERM     1U
#define BN_NBD_EIO       5U
#define BN_NBD_ENOMEM    12U
#define BN_NBD_EINVAL    22U
#define BN_NBD_ENOSPC    28U
#define BN_NBD_EOVERFLOW 75U
#define BN_NBD_ENOTSUP   95U
#define BN_NBD_ESHUTDOWN 108U

/* ---- sizes ------------------------------------------------------------ */
#define BN_NBD_MAX_OPT     4096U               /* option data we accept */
#define BN_NBD_MAX_PAYLOAD (32U * 1024 * 1024) /* read/write length we accept */
#define BN_NBD_MAX_NAME    255U                /* export name */
#define BN_NBD_HELLO_LEN   18U                 /* NBDMAGIC IHAVEOPT flags */
#define BN_NBD_REQ_LEN     28U
#define BN_NBD_SIMPLE_LEN  16U
#define BN_NBD_CHUNK_LEN   20U
#define BN_NBD_OPTREP_LEN  20U

/* A 0..255 byte export name, NUL-terminated. */
struct bn_nbd_name {
        char s[BN_NBD_MAX_NAME + 1];
};

/* What the server says of its export. */
struct bn_nbd_export {
        uint64_t size;
        uint16_t tflags;     /* BN_NBD_FLAG_HAS_FLAGS | ... */
        uint32_t min_block;  /* 1 */
        uint32_t pref_block; /* 4096 */
        uint32_t max_block;  /* <= BN_NBD_MAX_PAYLOAD */
};

/* ---- server side ------------------------------------------------------ */

enum bn_nbd_srv_phase {
        BN_NBD_SRV_CLIENT_FLAGS, /* after the server's greeting */
        BN_NBD_SRV_OPTIONS,
        BN_NBD_SRV_TRANSMIT,
        BN_NBD_SRV_DONE, /* after ABORT or DISC: nothing more is parsed */
};

struct bn_nbd_srv_state {
        enum bn_nbd_srv_phase phase;
        uint32_t client_flags;
        bool structured;          /* STRUCTURED_REPLY was acknowledged */
        struct bn_nbd_export exp; /* set by the server before TRANSMIT */
};

enum bn_nbd_srv_ev_kind {
        BN_NBD_SRV_EV_FLAGS,   /* client flags read (ev->client_flags) */
        BN_NBD_SRV_EV_OPTION,  /* an option: answer it (bn_nbd_srv_option_*) */
        BN_NBD_SRV_EV_REQUEST, /* a transmission request */
};

struct bn_nbd_srv_ev {
        enum bn_nbd_srv_ev_kind kind;
        uint32_t client_flags;
        /* option */
        uint32_t opt;
        uint32_t opt_len;
        const uint8_t *opt_data; /* points into the caller's buffer */
        /* request */
        uint16_t flags;
        uint16_t type;
        uint64_t handle;
        uint64_t offset;
        uint32_t length;
        const uint8_t *data; /* WRITE's payload, in the caller's buffer */
        uint32_t err;        /* 0, or the NBD error to answer with */
};

void bn_nbd_srv_init(struct bn_nbd_srv_state *s, const struct bn_nbd_export *exp);
/* Parse one message from buf[0..len). Returns the bytes consumed (> 0) with
 * *ev filled; 0 when incomplete (*need: the total bytes the message needs
 * from buf[0]); -EPROTO (bad magic, flags or framing), -EMSGSIZE (a length
 * beyond what we accept) or -ESHUTDOWN (phase DONE). */
ssize_t bn_nbd_srv_parse(struct bn_nbd_srv_state *s, const uint8_t *buf, size_t len,
                         struct bn_nbd_srv_ev *ev, size_t *need);

/* An option's data, checked: for INFO and GO the export name and the info
 * requests (up to max_info of them into info[]); for EXPORT_NAME the name.
 * -EINVAL when malformed (answer BN_NBD_REP_ERR_INVALID). */
int bn_nbd_opt_parse_name(const struct bn_nbd_srv_ev *ev, struct bn_nbd_name *name, uint16_t *info,
                          unsigned max_info, unsigned *n_info);

/* ---- encoders (each writes into out, returns the bytes written) ------- */
size_t bn_nbd_put_hello(uint8_t out[BN_NBD_HELLO_LEN], uint16_t hs_flags);
size_t bn_nbd_put_optrep(uint8_t out[BN_NBD_OPTREP_LEN], uint32_t opt, uint32_t type, uint32_t len);
/* NBD_REP_INFO NBD_INFO_EXPORT (12 + 20 bytes) */
size_t bn_nbd_put_info_export(uint8_t out[32], uint32_t opt, const struct bn_nbd_export *e);
/* NBD_REP_INFO NBD_INFO_BLOCK_SIZE (18 + 20 bytes) */
size_t bn_nbd_put_info_block(uint8_t out[38], uint32_t opt, const struct bn_nbd_export *e);
/* EXPORT_NAME's answer: size, flags and 124 zeroes unless no_zeroes (10 or 134). */
size_t bn_nbd_put_export_name_reply(uint8_t out[134], const struct bn_nbd_export *e,
                                    bool no_zeroes);
size_t bn_nbd_put_simple(uint8_t out[BN_NBD_SIMPLE_LEN], uint32_t err, uint64_t handle);
/* A chunk header; its payload (len bytes) follows. */
size_t bn_nbd_put_chunk(uint8_t out[BN_NBD_CHUNK_LEN], uint16_t flags, uint16_t type,
                        uint64_t handle, uint32_t len);
size_t bn_nbd_put_request(uint8_t out[BN_NBD_REQ_LEN], uint16_t flags, uint16_t type,
                          uint64_t handle, uint64_t offset, uint32_t length);
/* An option header (16 bytes); its data (len bytes) follows. */
size_t bn_nbd_put_option(uint8_t out[16], uint32_t opt, uint32_t len);

/* ---- client side ------------------------------------------------------ */

enum bn_nbd_cli_phase {
        BN_NBD_CLI_HELLO,       /* the server's greeting */
        BN_NBD_CLI_OPTIONS,     /* option replies */
        BN_NBD_CLI_EXPORT_NAME, /* the answer to EXPORT_NAME */
        BN_NBD_CLI_TRANSMIT,
};

/* The client says how long the read with this handle is (the simple reply
 * does not): 0 and *len, or -ENOENT when no such request is outstanding. */
typedef int (*bn_nbd_read_len_fn)(void *arg, uint64_t handle, uint32_t *len, uint64_t *offset);

struct bn_nbd_cli_state {
        enum bn_nbd_cli_phase phase;
        uint16_t hs_flags;
        bool no_zeroes; /* the client sent NBD_FLAG_C_NO_ZEROES */
        bool structured;
        bn_nbd_read_len_fn read_len;
        void *read_len_arg;
};

enum bn_nbd_cli_ev_kind {
        BN_NBD_CLI_EV_HELLO,  /* ev->hs_flags */
        BN_NBD_CLI_EV_OPTREP, /* ev->opt, ev->rep_type, ev->data/len */
        BN_NBD_CLI_EV_EXPORT, /* EXPORT_NAME's answer: ev->size, ev->tflags */
        BN_NBD_CLI_EV_REPLY,  /* a simple reply, or one structured chunk */
};

struct bn_nbd_cli_ev {
        enum bn_nbd_cli_ev_kind kind;
        uint16_t hs_flags;
        uint32_t opt;
        uint32_t rep_type;
        uint64_t size;
        uint16_t tflags;
        /* reply */
        uint64_t handle;
        bool done;           /* the last answer for this handle */
        uint16_t chunk_type; /* BN_NBD_REPLY_*; NONE for a simple reply */
        uint32_t err;        /* NBD error (0: none) */
        uint64_t offset;     /* OFFSET_DATA / OFFSET_HOLE / ERROR_OFFSET */
        const uint8_t *data; /* option reply data, or read data */
        uint32_t len;
};

void bn_nbd_cli_init(struct bn_nbd_cli_state *c, bn_nbd_read_len_fn read_len, void *arg);
/* As bn_nbd_srv_parse, for what the server sends. */
ssize_t bn_nbd_cli_parse(struct bn_nbd_cli_state *c, const uint8_t *buf, size_t len,
                         struct bn_nbd_cli_ev *ev, size_t *need);
/* NBD_REP_INFO's NBD_INFO_EXPORT into e (0, or -EINVAL when ev is not one). */
int bn_nbd_cli_info_export(const struct bn_nbd_cli_ev *ev, struct bn_nbd_export *e);

/* An errno (positive) as the NBD error to send, and back. */
uint32_t bn_nbd_err_from_errno(int err);
int bn_nbd_err_to_errno(uint32_t nbd_err);
const char *bn_nbd_cmd_name(uint16_t type);

#endif
