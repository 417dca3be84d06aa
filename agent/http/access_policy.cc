#include "agent/http/access_policy.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/http/responses.h"

namespace inprof::internal {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool AllDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

// The port of an authority ("host:port", "[v6]:port"), or "" without one.
std::string_view PortOf(std::string_view authority) {
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos ||
      (bracket != std::string_view::npos && colon < bracket) ||
      (bracket == std::string_view::npos &&
       authority.find(':') != colon)) {  // a bare IPv6 address
    return "";
  }
  return authority.substr(colon + 1);
}

// The time taken depends on the length of `expected` only, never on where
// `given` first differs.
bool ConstantTimeEquals(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const char g = i < given.size() ? given[i] : 0;
    diff |= static_cast<unsigned char>(g ^ expected[i]);
  }
  return diff == 0;
}

// Appends the RFC 4648 base64 decoding of `in` to `out`; false for a
// character outside the alphabet.
bool DecodeBase64(std::string_view in, std::string* out) {
  uint32_t bits = 0;
  int count = 0;
  for (char c : in) {
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+') {
      value = 62;
    } else if (c == '/') {
      value = 63;
    } else if (c == '=') {
      break;
    } else {
      return false;
    }
    bits = (bits << 6) | static_cast<uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out->push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return true;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         Lower(text.substr(0, prefix.size())) == prefix;
}

}  // namespace

AccessPolicy::AccessPolicy(const AccessRules& rules) : token_(rules.token) {
  names_ = {"127.0.0.1", "localhost", "::1"};
  std::vector<std::string> extra = rules.allowed_hosts;
  extra.push_back(rules.bound_host);
  for (const std::string& host : extra) {
    if (host == "*") {
      any_host_ = true;
      continue;
    }
    std::string name = HostName(host);
    if (!name.empty()) names_.push_back(std::move(name));
  }
}

std::string AccessPolicy::HostName(std::string_view authority) {
  std::string_view name = authority;
  const std::string_view port = PortOf(authority);
  if (!port.empty() || (!authority.empty() && authority.back() == ':')) {
    if (!AllDigits(port)) return "";
    name = authority.substr(0, authority.size() - port.size() - 1);
  }
  if (name.starts_with("[")) {
    if (!name.ends_with("]")) return "";
    name = name.substr(1, name.size() - 2);
  }
  if (name.ends_with(".")) name.remove_suffix(1);
  return Lower(name);
}

Status AccessPolicy::ValidateToken(std::string_view token) {
  if (token.size() > 256) {
    return InvalidArgumentError("token: longer than 256 characters");
  }
  for (char c : token) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                    c == '_' || c == '~';
    if (!ok) {
      return InvalidArgumentError(
          "token: only letters, digits and -._~ are allowed (it travels in "
          "URLs and headers)");
    }
  }
  return OkStatus();
}

bool AccessPolicy::HostAllowed(std::string_view name) const {
  if (any_host_) return true;
  return !name.empty() &&
         std::find(names_.begin(), names_.end(), name) != names_.end();
}

std::optional<AccessRefusal> AccessPolicy::CheckOrigin(
    const httplib::Request& req) const {
  const std::string origin = req.get_header_value("Origin");
  const auto refuse = [&origin] {
    return AccessRefusal{403, "Origin: " + OneLine(origin, 128) +
                                  " is not this agent's origin; cross-site "
                                  "requests are refused"};
  };
  // The default port is implied in both Host and Origin.
  const auto without_default_port = [](std::string authority) {
    if (authority.ends_with(":80")) authority.resize(authority.size() - 3);
    return authority;
  };
  const std::string lower = Lower(origin);
  if (!lower.starts_with("http://")) return refuse();
  const std::string authority =
      without_default_port(lower.substr(std::string_view("http://").size()));
  if (req.has_header("Host")) {
    if (authority !=
        without_default_port(Lower(req.get_header_value("Host")))) {
      return refuse();
    }
    return std::nullopt;
  }
  const std::string_view port = PortOf(authority);
  const int origin_port =
      port.empty() ? 80 : std::atoi(std::string(port).c_str());
  if (!HostAllowed(HostName(authority)) || origin_port != req.local_port) {
    return refuse();
  }
  return std::nullopt;
}

bool AccessPolicy::Authorized(const httplib::Request& req) const {
  if (token_.empty()) return true;
  const std::string auth = req.get_header_value("Authorization");
  if (StartsWithIgnoreCase(auth, "bearer ")) {
    std::string_view given = std::string_view(auth).substr(7);
    while (given.starts_with(" ")) given.remove_prefix(1);
    if (ConstantTimeEquals(given, token_)) return true;
  } else if (StartsWithIgnoreCase(auth, "basic ")) {
    std::string credentials;
    if (DecodeBase64(std::string_view(auth).substr(6), &credentials)) {
      const size_t colon = credentials.find(':');
      const std::string_view user =
          std::string_view(credentials).substr(0, colon);
      const std::string_view password =
          colon == std::string::npos
              ? std::string_view()
              : std::string_view(credentials).substr(colon + 1);
      if (ConstantTimeEquals(password, token_) ||
          (password.empty() && ConstantTimeEquals(user, token_))) {
        return true;
      }
    }
  }
  return req.has_param("token") &&
         ConstantTimeEquals(req.get_param_value("token"), token_);
}

std::optional<AccessRefusal> AccessPolicy::Check(
    const httplib::Request& req) const {
  if (req.has_header("Host")) {
    const std::string host = req.get_header_value("Host");
    if (req.get_header_value_count("Host") != 1 ||
        !HostAllowed(HostName(host))) {
      return AccessRefusal{403, "Host: " + OneLine(host, 128) +
                                    " is not an allowed name for this agent "
                                    "(DNS rebinding?); add it to "
                                    "INPROF_ALLOWED_HOSTS"};
    }
  }
  if (req.has_header("Origin")) {
    if (std::optional<AccessRefusal> refusal = CheckOrigin(req)) {
      return refusal;
    }
  }
  if (!Authorized(req)) {
    return AccessRefusal{
        401,
        "this agent needs its token: send \"Authorization: Bearer TOKEN\", "
        "or fetch http://inprof:TOKEN@HOST:PORT/... (go tool pprof), or add "
        "?token=TOKEN"};
  }
  return std::nullopt;
}

}  // namespace inprof::internal
