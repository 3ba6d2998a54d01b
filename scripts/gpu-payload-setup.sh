# Copied into .gpu-payload/setup.sh by scripts/gpu-payload.sh. Source it on the GPU host, from the
# project root (as root): . .gpu-payload/setup.sh
# Installs the Vulkan loader, points it at the NVIDIA driver's ICD (where the H200 host we used
# mounts it; set VK_DRIVER_FILES first where yours differs), and unpacks node and node_modules.
for f in .gpu-payload/debs/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
xz -dc .gpu-payload/node.xz > /usr/local/bin/node && chmod +x /usr/local/bin/node
rm -rf node_modules && tar -xJf .gpu-payload/node_modules.tar.xz
node --version
