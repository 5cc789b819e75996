import { FactPublisher, type PublishOutcome } from '../../streams/index.js'
import type { Fact } from '../../schemas/index.js'

/**
 * A publisher whose window stays full until `open()`: the routine lane's outputs wait, as they do
 * when a flood fills the window of the shared publisher.
 */
export class HeldPublisher extends FactPublisher {
  private held = true
  private release: () => void = () => undefined
  private readonly opened = new Promise<void>((r) => (this.release = r))
  open(): void {
    this.held = false
    this.release()
  }
  override trySend(fact: Fact, subject: string | undefined, cb: (o: PublishOutcome) => void): boolean {
    return this.held ? false : super.trySend(fact, subject, cb)
  }
  override async send(fact: Fact, subject: string | undefined, cb: (o: PublishOutcome) => void): Promise<void> {
    await this.opened
    return super.send(fact, subject, cb)
  }
}
