// Argument checks for the exported functions. Bad arguments are programming errors of the layer
// above, so they throw a TypeError synchronously instead of reaching a system call.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace netns {

[[noreturn]] inline void ThrowArgError(Napi::Env env, const std::string& message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  throw error;
}

inline double IntegerValue(Napi::Env env, Napi::Value value, const char* name, double min,
                           double max) {
  if (!value.IsNumber()) ThrowArgError(env, std::string(name) + " must be an integer");
  double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < min || d > max) {
    ThrowArgError(env, std::string(name) + " is out of range");
  }
  return d;
}

inline int32_t Int32Arg(const Napi::CallbackInfo& info, size_t i, const char* name, double min,
                        double max) {
  return static_cast<int32_t>(IntegerValue(info.Env(), info[i], name, min, max));
}

// Paths and names go to C APIs: an embedded NUL would silently cut them short.
inline std::string StringValue(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsString()) ThrowArgError(env, std::string(name) + " must be a string");
  std::string s = value.As<Napi::String>().Utf8Value();
  if (s.empty() || s.find('\0') != std::string::npos) {
    ThrowArgError(env, std::string(name) + " must be a non-empty string without NUL bytes");
  }
  return s;
}

inline std::string PathArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return StringValue(info.Env(), info[i], name);
}

// A single path component: dir/name must stay inside dir.
inline std::string NameArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  std::string s = StringValue(info.Env(), info[i], name);
  if (s == "." || s == ".." || s.find('/') != std::string::npos) {
    ThrowArgError(info.Env(), std::string(name) + " must be a single path component");
  }
  return s;
}

inline Napi::Function FunctionValue(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsFunction()) ThrowArgError(env, std::string(name) + " must be a function");
  return value.As<Napi::Function>();
}

inline Napi::Function FunctionArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return FunctionValue(info.Env(), info[i], name);
}

}  // namespace netns
