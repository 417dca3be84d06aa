#include "agent/http/responses.h"

#include <cstdio>
#include <string>
#include <utility>

namespace inprof::internal {
namespace {

constexpr char kTextPlain[] = "text/plain; charset=utf-8";

// Response::set_content copies; profiles can be megabytes, so move instead.
void SetBody(httplib::Response& res, std::string body,
             const char* content_type) {
  res.body = std::move(body);
  res.headers.erase("Content-Type");
  res.set_header("Content-Type", content_type);
}

// The reason phrases of the statuses the server writes itself. (The split
// build of cpp-httplib does not export its own table.)
const char* ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return status < 500 ? "Client Error" : "Server Error";
  }
}

}  // namespace

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kFailedPrecondition:
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kOk:
    case StatusCode::kInternal:
      break;
  }
  return 500;
}

std::string OneLine(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(text.size() < max_bytes ? text.size() : max_bytes);
  for (char c : text) {
    if (out.size() >= max_bytes) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out;
}

void ServeError(httplib::Response& res, int status, std::string_view message) {
  // Go's serveError deletes Content-Disposition; starting from an empty
  // header set also drops anything else a handler set before failing.
  res.headers.clear();
  res.status = status;
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Go-Pprof", "1");
  // Room for long messages such as the list of known profiles.
  SetBody(res, OneLine(message, 512) + "\n", kTextPlain);
}

std::string RawErrorResponse(int status, std::string_view message) {
  const char* reason = ReasonPhrase(status);
  const std::string body = OneLine(message, 512) + "\n";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                    "\r\nConnection: close\r\nContent-Length: " +
                    std::to_string(body.size()) +
                    "\r\nContent-Type: " + kTextPlain +
                    "\r\nX-Content-Type-Options: nosniff\r\n"
                    "X-Go-Pprof: 1\r\n\r\n";
  return out + body;
}

void ServeStatus(httplib::Response& res, const Status& status) {
  ServeError(res, HttpStatusFor(status.code()), status.message());
}

void ServeText(httplib::Response& res, std::string body) {
  res.status = 200;
  res.set_header("X-Content-Type-Options", "nosniff");
  SetBody(res, std::move(body), kTextPlain);
}

void ServeBinary(httplib::Response& res, std::string body,
                 std::string_view filename) {
  res.status = 200;
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Content-Disposition",
                 "attachment; filename=\"" + std::string(filename) + "\"");
  SetBody(res, std::move(body), "application/octet-stream");
}

void HandleException(const httplib::Request& req, httplib::Response& res,
                     std::exception_ptr error) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  ServeError(res, 500,
             "internal error serving " + OneLine(req.path, 64) + ": " +
                 OneLine(what, 200));
}

}  // namespace inprof::internal
