// Encoding and strict decoding of dmaheapd frames.
#include "protocol/protocol.h"

#include <algorithm>
#include <cerrno>
#include <tuple>
#include <type_traits>

#include "protocol/wire.h"

namespace dmaheap::proto {
namespace {

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};

// A struct's wire fields: its tie() (DMAHEAP_WIRE_FIELDS), or wireFields(v) for a type defined
// outside the protocol (the heap descriptor, messages.h).
template <typename T>
concept HasTie = requires(T& v) { v.tie(); };

template <typename T>
auto fieldsOf(T& v) {
  if constexpr (HasTie<T>) {
    return v.tie();
  } else {
    return wireFields(v);
  }
}

// ---- encode ----

template <typename T>
void encodeValue(Writer& w, const T& v);

template <typename Tuple>
void encodeTuple(Writer& w, const Tuple& t) {
  std::apply([&](const auto&... field) { (encodeValue(w, field), ...); }, t);
}

template <typename T>
void encodeValue(Writer& w, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    w.put(static_cast<uint8_t>(v ? 1 : 0));
  } else if constexpr (std::is_integral_v<T>) {
    w.put(v);
  } else if constexpr (std::is_enum_v<T>) {
    w.put(static_cast<std::underlying_type_t<T>>(v));
  } else if constexpr (std::is_same_v<T, std::string>) {
    // Strings we send are ours (heap names, comm, messages); clip rather than emit a frame
    // the peer must refuse.
    w.putString(v.size() > kMaxString ? v.substr(0, kMaxString) : v);
  } else if constexpr (IsVector<T>::value) {
    w.put(static_cast<uint32_t>(v.size()));
    for (const auto& item : v) encodeValue(w, item);
  } else {
    encodeTuple(w, fieldsOf(v));
  }
}

// ---- decode ----

// The fewest bytes one value of T takes on the wire: bounds list counts before allocating.
template <typename T>
constexpr size_t minWireSize();

template <typename Tuple, size_t... I>
constexpr size_t minTupleSize(std::index_sequence<I...>) {
  return (size_t{0} + ... + minWireSize<std::remove_cvref_t<std::tuple_element_t<I, Tuple>>>());
}

template <typename T>
constexpr size_t minWireSize() {
  if constexpr (std::is_same_v<T, bool>) {
    return 1;
  } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
    return sizeof(T);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return 2;
  } else if constexpr (IsVector<T>::value) {
    return 4;
  } else {
    using Tuple = decltype(fieldsOf(std::declval<const T&>()));
    return minTupleSize<Tuple>(std::make_index_sequence<std::tuple_size_v<Tuple>>{});
  }
}

template <typename T>
void decodeValue(Reader& r, T& v);

template <typename Tuple>
void decodeTuple(Reader& r, Tuple t) {
  std::apply([&](auto&... field) { (decodeValue(r, field), ...); }, t);
}

template <typename T>
void decodeValue(Reader& r, T& v) {
  if (!r.ok()) return;
  if constexpr (std::is_same_v<T, bool>) {
    v = r.getBool();
  } else if constexpr (std::is_integral_v<T>) {
    v = r.get<T>();
  } else if constexpr (std::is_enum_v<T>) {
    // Values this side does not know are kept: names of them read "unknown".
    v = static_cast<T>(r.get<std::underlying_type_t<T>>());
  } else if constexpr (std::is_same_v<T, std::string>) {
    v = r.getString();
  } else if constexpr (IsVector<T>::value) {
    using Item = typename T::value_type;
    constexpr size_t item_min = std::max<size_t>(1, minWireSize<Item>());
    const uint32_t n = r.getCount(item_min);
    v.clear();
    v.reserve(n);
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
      Item item{};
      decodeValue(r, item);
      v.push_back(std::move(item));
    }
  } else {
    decodeTuple(r, fieldsOf(v));
  }
}

Error protocolError(const char* what, const std::string& why) {
  return makeError(EPROTO, std::string("malformed ") + what + ": " + why);
}

// Index of a request alternative == index of its reply alternative minus one.
template <size_t I = 0>
Result<Request> decodeRequestOfType(uint8_t type, Reader& r) {
  if constexpr (I == std::variant_size_v<Request>) {
    return makeError(EOPNOTSUPP, "request type " + std::to_string(type) + " is not known to protocol version " +
                                     std::to_string(kProtocolVersion));
  } else {
    using T = std::variant_alternative_t<I, Request>;
    if (static_cast<uint8_t>(T::kType) != type) return decodeRequestOfType<I + 1>(type, r);
    T msg{};
    decodeValue(r, msg);
    r.finish();
    if (!r.ok()) return protocolError(msgTypeName(type), r.error());
    return Request(std::move(msg));
  }
}

template <size_t I = 1>
Result<ReplyBody> decodeReplyBodyOfType(uint8_t type, Reader& r) {
  if constexpr (I == std::variant_size_v<ReplyBody>) {
    return makeError(EPROTO, "reply type " + std::to_string(type) + " answers no known request");
  } else {
    using T = std::variant_alternative_t<I, ReplyBody>;
    if (static_cast<uint8_t>(T::kType) != type) return decodeReplyBodyOfType<I + 1>(type, r);
    T msg{};
    decodeValue(r, msg);
    r.finish();
    if (!r.ok()) return protocolError("reply", r.error());
    return ReplyBody(std::move(msg));
  }
}

template <size_t I = 1>
bool replyFd(uint8_t type) {
  if constexpr (I == std::variant_size_v<ReplyBody>) {
    return false;
  } else {
    using T = std::variant_alternative_t<I, ReplyBody>;
    return static_cast<uint8_t>(T::kType) == type ? T::kCarriesFd : replyFd<I + 1>(type);
  }
}

template <size_t I = 0>
bool requestFd(uint8_t type) {
  if constexpr (I == std::variant_size_v<Request>) {
    return false;
  } else {
    using T = std::variant_alternative_t<I, Request>;
    return static_cast<uint8_t>(T::kType) == type ? T::kCarriesFd : requestFd<I + 1>(type);
  }
}

std::vector<uint8_t> frame(uint8_t type, uint8_t fd_count, uint32_t id, std::vector<uint8_t>&& payload) {
  Header h;
  h.type = type;
  h.fd_count = fd_count;
  h.length = static_cast<uint32_t>(payload.size());
  h.id = id;
  std::vector<uint8_t> out;
  out.reserve(kHeaderSize + payload.size());
  encodeHeader(h, out);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

}  // namespace

void encodeHeader(const Header& h, std::vector<uint8_t>& out) {
  Writer w;
  w.put(h.magic);
  w.put(h.version);
  w.put(h.type);
  w.put(h.fd_count);
  w.put(h.length);
  w.put(h.id);
  out.insert(out.end(), w.bytes().begin(), w.bytes().end());
}

Result<Header> decodeHeader(std::span<const uint8_t> bytes, Direction direction) {
  if (bytes.size() < kHeaderSize) return makeError(EPROTO, "short header");
  Reader r(bytes.first(kHeaderSize));
  Header h;
  h.magic = r.get<uint32_t>();
  h.version = r.get<uint16_t>();
  h.type = r.get<uint8_t>();
  h.fd_count = r.get<uint8_t>();
  h.length = r.get<uint32_t>();
  h.id = r.get<uint32_t>();
  if (h.magic != kMagic) return makeError(EPROTO, "not a dmaheapd message (bad magic)");
  if (h.version != kProtocolVersion) {
    return makeError(EPROTONOSUPPORT, "protocol version " + std::to_string(h.version) + " is not supported; this side speaks version " +
                                          std::to_string(kProtocolVersion));
  }
  const bool is_reply = (h.type & kReplyFlag) != 0;
  if (is_reply != (direction == Direction::kReply)) {
    return makeError(EPROTO, std::string("a ") + (is_reply ? "reply" : "request") + " where a " +
                                 (is_reply ? "request" : "reply") + " was expected");
  }
  if (h.fd_count > 1) return makeError(EPROTO, "a message carries at most one fd");
  const uint32_t limit = direction == Direction::kRequest ? kMaxRequestPayload : kMaxReplyPayload;
  if (h.length > limit) {
    return makeError(EMSGSIZE, "message of " + std::to_string(h.length) + " bytes exceeds the limit of " +
                                   std::to_string(limit));
  }
  return h;
}

MsgType requestType(const Request& request) {
  return std::visit([](const auto& m) { return std::remove_cvref_t<decltype(m)>::kType; }, request);
}

bool requestCarriesFd(MsgType type) { return requestFd(static_cast<uint8_t>(type)); }
bool replyCarriesFd(MsgType type) { return replyFd(static_cast<uint8_t>(type)); }

const char* msgTypeName(uint8_t type) {
  switch (type & ~kReplyFlag) {
    case static_cast<uint8_t>(MsgType::kHello): return "hello";
    case static_cast<uint8_t>(MsgType::kListHeaps): return "list-heaps";
    case static_cast<uint8_t>(MsgType::kAlloc): return "alloc";
    case static_cast<uint8_t>(MsgType::kSetName): return "set-name";
    case static_cast<uint8_t>(MsgType::kBufferInfo): return "buffer-info";
    case static_cast<uint8_t>(MsgType::kStats): return "stats";
    case static_cast<uint8_t>(MsgType::kDescribeHeaps): return "describe-heaps";
    case static_cast<uint8_t>(MsgType::kBackings): return "backings";
    default: return type == kProtocolErrorType ? "protocol-error" : "unknown";
  }
}

std::vector<uint8_t> encodeRequest(uint32_t id, const Request& request) {
  Writer w;
  std::visit([&](const auto& m) { encodeValue(w, m); }, request);
  const MsgType type = requestType(request);
  return frame(static_cast<uint8_t>(type), requestCarriesFd(type) ? 1 : 0, id, std::move(w.bytes()));
}

std::vector<uint8_t> encodeReply(uint32_t id, MsgType request_type, const Reply& reply) {
  Writer w;
  w.put(reply.error);
  encodeValue(w, reply.message);
  bool fd = false;
  if (reply.error == 0) {
    std::visit(
        [&](const auto& body) {
          using T = std::remove_cvref_t<decltype(body)>;
          if constexpr (!std::is_same_v<T, std::monostate>) {
            encodeValue(w, body);
            fd = T::kCarriesFd;
          }
        },
        reply.body);
  }
  return frame(static_cast<uint8_t>(request_type) | kReplyFlag, fd ? 1 : 0, id, std::move(w.bytes()));
}

std::vector<uint8_t> encodeProtocolError(int err, const std::string& message) {
  Writer w;
  w.put(static_cast<int32_t>(err));
  encodeValue(w, message);
  return frame(kProtocolErrorType, 0, 0, std::move(w.bytes()));
}

Result<Request> decodeRequest(const Header& header, std::span<const uint8_t> payload) {
  if (payload.size() != header.length) return makeError(EPROTO, "payload size does not match the header");
  Reader r(payload);
  auto request = decodeRequestOfType(header.type, r);
  if (!request) return request;
  const bool wants_fd = requestCarriesFd(requestType(*request));
  if ((header.fd_count == 1) != wants_fd) {
    return makeError(EPROTO, std::string("a ") + msgTypeName(header.type) + " request " +
                                 (wants_fd ? "must carry one fd" : "carries no fd"));
  }
  return request;
}

Result<Reply> decodeReply(const Header& header, std::span<const uint8_t> payload) {
  if (payload.size() != header.length) return makeError(EPROTO, "payload size does not match the header");
  Reader r(payload);
  Reply reply;
  reply.error = r.get<int32_t>();
  reply.message = r.getString();
  if (!r.ok()) return protocolError("reply", r.error());
  if (reply.error < 0) return makeError(EPROTO, "a reply carries a negative errno");
  if (header.type == kProtocolErrorType || reply.error != 0) {
    r.finish();
    if (!r.ok()) return protocolError("error reply", r.error());
    if (reply.error == 0) return makeError(EPROTO, "a protocol-error frame without an errno");
    if (header.fd_count != 0) return makeError(EPROTO, "an error reply carries an fd");
    // An error reply has no body, so it may answer a type this side does not know (a newer
    // client's request refused EOPNOTSUPP by an older service).
    return reply;
  }
  const uint8_t type = header.type & ~kReplyFlag;
  auto body = decodeReplyBodyOfType(type, r);
  if (!body) return body.error();
  if ((header.fd_count == 1) != replyFd(type)) {
    return makeError(EPROTO, std::string("a ") + msgTypeName(type) + " reply " +
                                 (replyFd(type) ? "must carry one fd" : "carries no fd"));
  }
  reply.body = std::move(body.value());
  return reply;
}

void FrameBuffer::append(std::span<const uint8_t> bytes) {
  if (start_ > 0 && start_ == data_.size()) {
    data_.clear();
    start_ = 0;
  } else if (start_ > 65536 && start_ * 2 > data_.size()) {
    data_.erase(data_.begin(), data_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
  }
  data_.insert(data_.end(), bytes.begin(), bytes.end());
}

bool FrameBuffer::hasFrame() const {
  if (buffered() < kHeaderSize) return false;
  auto header = decodeHeader(std::span<const uint8_t>(data_).subspan(start_, kHeaderSize), direction_);
  return !header || buffered() - kHeaderSize >= header->length;
}

Result<std::optional<Frame>> FrameBuffer::next() {
  if (buffered() < kHeaderSize) return std::optional<Frame>();
  auto header = decodeHeader(std::span<const uint8_t>(data_).subspan(start_, kHeaderSize), direction_);
  if (!header) return header.error();
  if (buffered() - kHeaderSize < header->length) return std::optional<Frame>();
  Frame f;
  f.header = *header;
  const auto begin = data_.begin() + static_cast<std::ptrdiff_t>(start_ + kHeaderSize);
  f.payload.assign(begin, begin + header->length);
  start_ += kHeaderSize + header->length;
  if (start_ == data_.size()) {
    data_.clear();
    start_ = 0;
  }
  return std::optional<Frame>(std::move(f));
}

}  // namespace dmaheap::proto
