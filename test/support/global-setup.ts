// Placeholder: replaced by the Redis test setup (spawns redis-server on a free port).
export default function setup(): void {}
