# Makes one of etcd's .proto files digestible for protoc without gogoproto or the gRPC-gateway
# annotations: drops their imports, the file-level (gogoproto.*) options, field-level
# [(gogoproto.*) = ...] options and the option (google.api.http) = {...} blocks.
# Field numbers and everything else stay as etcd ships them.
#   cmake -DIN=<etcd proto> -DOUT=<result> -P strip_proto.cmake
file(READ "${IN}" text)
string(REGEX REPLACE "import \"gogoproto/gogo.proto\";" "" text "${text}")
string(REGEX REPLACE "import \"google/api/annotations.proto\";" "" text "${text}")
string(REGEX REPLACE "option \\(gogoproto\\.[a-z_]+\\) = [a-z]+;" "" text "${text}")
string(REGEX REPLACE " *\\[\\(gogoproto\\.[^]]*\\]" "" text "${text}")
# One level of nesting: additional_bindings { ... }.
string(REGEX REPLACE "option \\(google\\.api\\.http\\) = {([^{}]*{[^{}]*})*[^{}]*};" "" text "${text}")
string(FIND "${text}" "gogoproto" leftover_gogo)
string(FIND "${text}" "google.api" leftover_api)
if(NOT leftover_gogo EQUAL -1 OR NOT leftover_api EQUAL -1)
  message(FATAL_ERROR "strip_proto: ${IN} still mentions gogoproto or google.api after stripping")
endif()
file(WRITE "${OUT}" "${text}")
