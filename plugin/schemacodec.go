package plugin

import (
	"crypto/sha256"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"

	"github.com/goflyte/goflyte/plugin/pluginpb"
)

// MarshalSchema encodes s as the Describe response a plugin sends (the
// wire form of the protocol), so that it can be kept and read back with
// [UnmarshalSchema] in place of asking the plugin again. The encoding is
// deterministic.
func MarshalSchema(s *Schema) ([]byte, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(schemaToProto(s))
	if err != nil {
		return nil, fmt.Errorf("encode plugin schema: %w", err)
	}
	return data, nil
}

// UnmarshalSchema decodes what [MarshalSchema] encoded, as Describe
// decodes a plugin's answer.
func UnmarshalSchema(data []byte) (*Schema, error) {
	var resp pluginpb.DescribeResponse
	if err := proto.Unmarshal(data, &resp); err != nil {
		return nil, fmt.Errorf("decode plugin schema: %w", err)
	}
	return schemaFromProto(&resp), nil
}

var protocolDigest = sync.OnceValue(func() [sha256.Size]byte {
	fd := protodesc.ToFileDescriptorProto(pluginpb.File_plugin_proto)
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(fd)
	if err != nil {
		panic("plugin: encode the protocol's descriptor: " + err.Error())
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00%s\x00", Handshake.ProtocolVersion, Handshake.MagicCookieKey, Handshake.MagicCookieValue)
	h.Write(data)
	return [sha256.Size]byte(h.Sum(nil))
})

// ProtocolDigest is the SHA-256 of this side's protocol: the handshake
// (version, magic cookie) and the messages of plugin.proto. A kept
// Describe answer is only valid for the protocol it was read with: a
// field added to the messages changes the digest.
func ProtocolDigest() [sha256.Size]byte { return protocolDigest() }
