#!/bin/bash
# Builds the external MQTT-SN clients test/interop/run.py drives, in their own source trees (outside this
# repository; docs/interop.md names the upstream commits):
#   build_clients.sh --tools DIR     njh/mqtt-sn-tools            -> DIR/mqtt-sn-pub, DIR/mqtt-sn-sub
#   build_clients.sh --paho DIR      eclipse/paho.mqtt-sn.embedded-c:
#                                    MQTTSNPacket samples          -> DIR/build/{qos0pub,...}
#                                    MQTTSNGateway/GatewayTester   -> DIR/MQTTSNGateway/GatewayTester/Build/
#                                      MQTT-SNGatewayTester (its own samples/mainTest.cpp, unchanged) and two
#                                      variants of that file, the way its README asks users to configure it:
#                                      -will (a will topic and message) and -qos2 (topic1 at QoS 2)
# Prints the environment run.py reads. Needs gcc, g++, make and libssl-dev (the tester links OpenSSL).
set -euo pipefail

tools="" paho=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --tools) tools=$(realpath "$2"); shift 2 ;;
    --paho) paho=$(realpath "$2"); shift 2 ;;
    *) echo "usage: $0 [--tools MQTT_SN_TOOLS_SRC] [--paho PAHO_MQTTSN_EMBEDDED_C_SRC]" >&2; exit 2 ;;
  esac
done
[[ -n $tools || -n $paho ]] || { echo "usage: $0 [--tools DIR] [--paho DIR]" >&2; exit 2; }

env_lines=()
if [[ -n $tools ]]; then
  make -C "$tools" mqtt-sn-pub mqtt-sn-sub
  env_lines+=("MQTTSN_TOOLS_DIR=$tools")
fi

if [[ -n $paho ]]; then
  pkt=$paho/MQTTSNPacket
  mkdir -p "$paho/build"
  for s in qos0pub qos0pub_register qos-1pub qos-1pub_extended qos1pub pub0sub1; do
    gcc -O1 -g -Wall -Wno-unused-but-set-variable -I "$pkt/src" "$pkt/samples/$s.c" "$pkt/samples/transport.c" \
      "$pkt"/src/*.c -o "$paho/build/$s"
  done
  env_lines+=("PAHO_MQTTSN_DIR=$paho/build")

  gt=$paho/MQTTSNGateway/GatewayTester
  make -C "$gt" SN=UDP CXXFLAGS='-Wall -O1 -std=c++11' Build/MQTT-SNGatewayTester
  objs=("$gt"/Build/src/*.o)
  main=$gt/samples/mainTest.cpp
  # -will: the client configuration block's will topic and message (MQTTSNCONF in mainTest.cpp).
  sed -e 's|"",            //WillTopic|"interop/will", //WillTopic|' \
      -e 's|"",            //WillMessage|"gone",         //WillMessage|' "$main" > "$gt/Build/mainTestWill.cpp"
  grep -q '"interop/will"' "$gt/Build/mainTestWill.cpp"
  # -qos2: topic1 subscribed and published at QoS 2.
  sed -e 's|topic1, 0, on_Topic01, QoS1|topic1, 0, on_Topic01, QoS2|' \
      -e '/void publishTopic1/,/^}/s|strlen(payload), QoS0)|strlen(payload), QoS2)|' "$main" > "$gt/Build/mainTestQos2.cpp"
  [[ $(grep -c 'QoS2' "$gt/Build/mainTestQos2.cpp") -ge 2 ]]
  for v in Will:will Qos2:qos2; do
    g++ -DUDP -Wall -O1 -std=c++11 -I "$gt/src" -o "$gt/Build/MQTT-SNGatewayTester-${v#*:}" \
      "$gt/Build/mainTest${v%%:*}.cpp" "${objs[@]}" -lssl -lcrypto
  done
  env_lines+=("PAHO_GWTESTER_DIR=$gt/Build")
fi

printf 'export %s\n' "${env_lines[@]}"
